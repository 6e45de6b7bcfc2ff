//! Field tables for core/v1 volume sources and the PersistentVolumeClaim types they embed.

use k8s_pb::api::core::v1 as core_v1;

use super::json::messages;

messages! {
    "core.v1" in core_v1;

    AwsElasticBlockStoreVolumeSource {
        volume_id: "volumeID", fs_type: "fsType", partition, read_only: "readOnly",
    }
    AzureDiskVolumeSource {
        disk_name: "diskName", disk_uri: "diskURI", caching_mode: "cachingMode", fs_type: "fsType",
        read_only: "readOnly", kind,
    }
    AzureFileVolumeSource {
        secret_name: "secretName", share_name: "shareName", read_only: "readOnly",
    }
    CSIVolumeSource {
        driver, read_only: "readOnly", fs_type: "fsType", volume_attributes: "volumeAttributes",
        node_publish_secret_ref: "nodePublishSecretRef",
    }
    CephFsVolumeSource {
        monitors, path, user, secret_file: "secretFile", secret_ref: "secretRef",
        read_only: "readOnly",
    }
    CinderVolumeSource {
        volume_id: "volumeID", fs_type: "fsType", read_only: "readOnly", secret_ref: "secretRef",
    }
    ClusterTrustBundleProjection {
        name, signer_name: "signerName", label_selector: "labelSelector", optional, path,
    }
    ConfigMapProjection[local_object_reference] { items, optional }
    ConfigMapVolumeSource[local_object_reference] { items, default_mode: "defaultMode", optional }
    DownwardAPIProjection { items }
    DownwardAPIVolumeFile {
        path, field_ref: "fieldRef", resource_field_ref: "resourceFieldRef", mode,
    }
    DownwardAPIVolumeSource { items, default_mode: "defaultMode" }
    EmptyDirVolumeSource { medium, size_limit: "sizeLimit" }
    EphemeralVolumeSource { volume_claim_template: "volumeClaimTemplate" }
    FcVolumeSource {
        target_ww_ns: "targetWWNs", lun, fs_type: "fsType", read_only: "readOnly", wwids,
    }
    FlexVolumeSource {
        driver, fs_type: "fsType", secret_ref: "secretRef", read_only: "readOnly", options,
    }
    FlockerVolumeSource { dataset_name: "datasetName", dataset_uuid: "datasetUUID" }
    GcePersistentDiskVolumeSource {
        pd_name: "pdName", fs_type: "fsType", partition, read_only: "readOnly",
    }
    GitRepoVolumeSource { repository, revision, directory }
    GlusterfsVolumeSource { endpoints, path, read_only: "readOnly" }
    HostPathVolumeSource { path, r#type: "type" }
    ImageVolumeSource { reference, pull_policy: "pullPolicy" }
    IscsiVolumeSource {
        target_portal: "targetPortal", iqn, lun, iscsi_interface: "iscsiInterface",
        fs_type: "fsType", read_only: "readOnly", portals, chap_auth_discovery: "chapAuthDiscovery",
        chap_auth_session: "chapAuthSession", secret_ref: "secretRef",
        initiator_name: "initiatorName",
    }
    KeyToPath { key, path, mode }
    LocalObjectReference { name }
    NfsVolumeSource { server, path, read_only: "readOnly" }
    ObjectFieldSelector { api_version: "apiVersion", field_path: "fieldPath" }
    PersistentVolumeClaimSpec {
        access_modes: "accessModes", selector, resources, volume_name: "volumeName",
        storage_class_name: "storageClassName", volume_mode: "volumeMode",
        data_source: "dataSource", data_source_ref: "dataSourceRef",
        volume_attributes_class_name: "volumeAttributesClassName",
    }
    PersistentVolumeClaimTemplate { metadata, spec }
    PersistentVolumeClaimVolumeSource { claim_name: "claimName", read_only: "readOnly" }
    PhotonPersistentDiskVolumeSource { pd_id: "pdID", fs_type: "fsType" }
    PodCertificateProjection {
        signer_name: "signerName", key_type: "keyType",
        max_expiration_seconds: "maxExpirationSeconds",
        credential_bundle_path: "credentialBundlePath", key_path: "keyPath",
        certificate_chain_path: "certificateChainPath", user_annotations: "userAnnotations",
    }
    PortworxVolumeSource { volume_id: "volumeID", fs_type: "fsType", read_only: "readOnly" }
    ProjectedVolumeSource { sources, default_mode: "defaultMode" }
    QuobyteVolumeSource { registry, volume, read_only: "readOnly", user, group, tenant }
    RbdVolumeSource {
        monitors, image, fs_type: "fsType", pool, user, keyring, secret_ref: "secretRef",
        read_only: "readOnly",
    }
    ResourceFieldSelector { container_name: "containerName", resource, divisor }
    ScaleIoVolumeSource {
        gateway, system, secret_ref: "secretRef", ssl_enabled: "sslEnabled",
        protection_domain: "protectionDomain", storage_pool: "storagePool",
        storage_mode: "storageMode", volume_name: "volumeName", fs_type: "fsType",
        read_only: "readOnly",
    }
    SecretProjection[local_object_reference] { items, optional }
    SecretVolumeSource { secret_name: "secretName", items, default_mode: "defaultMode", optional }
    ServiceAccountTokenProjection { audience, expiration_seconds: "expirationSeconds", path }
    StorageOsVolumeSource {
        volume_name: "volumeName", volume_namespace: "volumeNamespace", fs_type: "fsType",
        read_only: "readOnly", secret_ref: "secretRef",
    }
    TypedLocalObjectReference { api_group: "apiGroup", kind, name }
    TypedObjectReference { api_group: "apiGroup", kind, name, namespace }
    Volume[volume_source] { name }
    VolumeProjection {
        secret, downward_api: "downwardAPI", config_map: "configMap",
        service_account_token: "serviceAccountToken", cluster_trust_bundle: "clusterTrustBundle",
        pod_certificate: "podCertificate",
    }
    VolumeResourceRequirements { limits, requests }
    VolumeSource {
        host_path: "hostPath", empty_dir: "emptyDir", gce_persistent_disk: "gcePersistentDisk",
        aws_elastic_block_store: "awsElasticBlockStore", git_repo: "gitRepo", secret, nfs, iscsi,
        glusterfs, persistent_volume_claim: "persistentVolumeClaim", rbd, flex_volume: "flexVolume",
        cinder, cephfs, flocker, downward_api: "downwardAPI", fc, azure_file: "azureFile",
        config_map: "configMap", vsphere_volume: "vsphereVolume", quobyte, azure_disk: "azureDisk",
        photon_persistent_disk: "photonPersistentDisk", projected,
        portworx_volume: "portworxVolume", scale_io: "scaleIO", storageos, csi, ephemeral, image,
    }
    VsphereVirtualDiskVolumeSource {
        volume_path: "volumePath", fs_type: "fsType", storage_policy_name: "storagePolicyName",
        storage_policy_id: "storagePolicyID",
    }
}
