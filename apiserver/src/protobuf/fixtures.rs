//! Request bodies recorded from real kubectl runs against a listener that saved them, used as decode fixtures.

/// One recorded command.
pub(super) struct Capture {
    pub command: &'static str,
    /// The body kubectl 1.33 sent (`Content-Type: application/vnd.kubernetes.protobuf`).
    pub protobuf: &'static [u8],
    /// The body kubectl 1.31 sent for the same command (`application/json`), where it is the same kind.
    pub json_1_31: Option<&'static str>,
}

pub(super) const KUBECTL: &[Capture] = &[
    Capture {
        command: "create namespace x",
        protobuf:
            b"k8s\x00\x0a\x0f\x0a\x02v1\x12\x09Namespace\x12\x19\x0a\x11\x0a\x01x\x12\x00\x1a\x00\
            \x22\x00*\x002\x008\x00B\x00\x12\x00\x1a\x02\x0a\x00\x1a\x00\x22\x00",
        json_1_31: Some(
            r#"{"kind":"Namespace","apiVersion":"v1","metadata":{"name":"x",
              "creationTimestamp":null},"spec":{},"status":{}}"#,
        ),
    },
    Capture {
        command: "create configmap cfg --from-literal=a=1 --from-literal=empty=",
        protobuf:
            b"k8s\x00\x0a\x0f\x0a\x02v1\x12\x09ConfigMap\x12(\x0a\x13\x0a\x03cfg\x12\x00\x1a\x00\
            \x22\x00*\x002\x008\x00B\x00\x12\x06\x0a\x01a\x12\x011\x12\x09\x0a\x05empty\x12\x00\
            \x1a\x00\x22\x00",
        json_1_31: Some(
            r#"{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"cfg",
              "creationTimestamp":null},"data":{"a":"1","empty":""}}"#,
        ),
    },
    Capture {
        command: "create secret generic creds --from-literal=password=s3cr3t",
        protobuf:
            b"k8s\x00\x0a\x0c\x0a\x02v1\x12\x06Secret\x12-\x0a\x15\x0a\x05creds\x12\x00\x1a\x00\
            \x22\x00*\x002\x008\x00B\x00\x12\x12\x0a\x08password\x12\x06s3cr3t\x1a\x00\x1a\x00\
            \x22\x00",
        json_1_31: Some(
            r#"{"kind":"Secret","apiVersion":"v1","metadata":{"name":"creds",
              "creationTimestamp":null},"data":{"password":"czNjcjN0"}}"#,
        ),
    },
    Capture {
        command: "create deployment web --image=nginx --replicas=3 --port=80",
        protobuf:
            b"k8s\x00\x0a\x15\x0a\x07apps/v1\x12\x0aDeployment\x12\xb8\x01\x0a\x1f\x0a\x03web\x12\
            \x00\x1a\x00\x22\x00*\x002\x008\x00B\x00Z\x0a\x0a\x03app\x12\x03web\x12\x86\x01\x08\
            \x03\x12\x0c\x0a\x0a\x0a\x03app\x12\x03web\x1al\x0a\x1c\x0a\x00\x12\x00\x1a\x00\x22\
            \x00*\x002\x008\x00B\x00Z\x0a\x0a\x03app\x12\x03web\x12L\x12.\x0a\x05nginx\x12\x05ng\
            inx*\x002\x0a\x0a\x00\x10\x00\x18P\x22\x00*\x00B\x00j\x00r\x00\x80\x01\x00\x88\x01\
            \x00\x90\x01\x00\xa2\x01\x00\x1a\x002\x00B\x00J\x00R\x00X\x00`\x00h\x00\x82\x01\x00\
            \x8a\x01\x00\x9a\x01\x00\xc2\x01\x00\x22\x02\x0a\x00(\x008\x00\x1a\x0c\x08\x00\x10\
            \x00\x18\x00\x20\x00(\x008\x00\x1a\x00\x22\x00",
        json_1_31: Some(
            r#"{"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"web",
              "creationTimestamp":null,"labels":{"app":"web"}},"spec":{"replicas":3,
              "selector":{"matchLabels":{"app":"web"}},
              "template":{"metadata":{"creationTimestamp":null,"labels":{"app":"web"}},
              "spec":{"containers":[{"name":"nginx","image":"nginx",
              "ports":[{"containerPort":80}],"resources":{}}]}},"strategy":{}},"status":{}}"#,
        ),
    },
    Capture {
        command: "create service clusterip web --tcp=80:8080",
        protobuf:
            b"k8s\x00\x0a\x0d\x0a\x02v1\x12\x07Service\x12i\x0a\x1f\x0a\x03web\x12\x00\x1a\x00\x22\
            \x00*\x002\x008\x00B\x00Z\x0a\x0a\x03app\x12\x03web\x12B\x0a\x1b\x0a\x0780-8080\x12\
            \x03TCP\x18P\x22\x07\x08\x00\x10\x90?\x1a\x00(\x00\x12\x0a\x0a\x03app\x12\x03web\x1a\
            \x00\x22\x09ClusterIP:\x00B\x00R\x00Z\x00`\x00h\x00\x1a\x02\x0a\x00\x1a\x00\x22\x00",
        json_1_31: Some(
            r#"{"kind":"Service","apiVersion":"v1","metadata":{"name":"web",
              "creationTimestamp":null,"labels":{"app":"web"}},"spec":{"ports":[{"name":"80-8080",
              "protocol":"TCP","port":80,"targetPort":8080}],"selector":{"app":"web"},
              "type":"ClusterIP"},"status":{"loadBalancer":{}}}"#,
        ),
    },
    Capture {
        command: "create job j --image=busybox -- echo hi",
        protobuf:
            b"k8s\x00\x0a\x0f\x0a\x08batch/v1\x12\x03Job\x12\x82\x01\x0a\x11\x0a\x01j\x12\x00\x1a\
            \x00\x22\x00*\x002\x008\x00B\x00\x12c2a\x0a\x10\x0a\x00\x12\x00\x1a\x00\x22\x00*\x00\
            2\x008\x00B\x00\x12M\x12*\x0a\x01j\x12\x07busybox\x1a\x04echo\x1a\x02hi*\x00B\x00j\
            \x00r\x00\x80\x01\x00\x88\x01\x00\x90\x01\x00\xa2\x01\x00\x1a\x05Never2\x00B\x00J\
            \x00R\x00X\x00`\x00h\x00\x82\x01\x00\x8a\x01\x00\x9a\x01\x00\xc2\x01\x00\x1a\x08\x20\
            \x00(\x000\x00:\x00\x1a\x00\x22\x00",
        json_1_31: Some(
            r#"{"kind":"Job","apiVersion":"batch/v1","metadata":{"name":"j",
              "creationTimestamp":null},"spec":{"template":{"metadata":{"creationTimestamp":null},
              "spec":{"containers":[{"name":"j","image":"busybox","command":["echo","hi"],
              "resources":{}}],"restartPolicy":"Never"}}},"status":{}}"#,
        ),
    },
    Capture {
        command: r#"create cronjob cj --image=busybox --schedule="*/5 * * * *" -- echo hi"#,
        protobuf:
            b"k8s\x00\x0a\x13\x0a\x08batch/v1\x12\x07CronJob\x12\xa8\x01\x0a\x12\x0a\x02cj\x12\x00\
            \x1a\x00\x22\x00*\x002\x008\x00B\x00\x12\x8f\x01\x0a\x0b*/5\x20*\x20*\x20*\x20*\x1a\
            \x00*~\x0a\x12\x0a\x02cj\x12\x00\x1a\x00\x22\x00*\x002\x008\x00B\x00\x12h2f\x0a\x10\
            \x0a\x00\x12\x00\x1a\x00\x22\x00*\x002\x008\x00B\x00\x12R\x12+\x0a\x02cj\x12\x07busy\
            box\x1a\x04echo\x1a\x02hi*\x00B\x00j\x00r\x00\x80\x01\x00\x88\x01\x00\x90\x01\x00\
            \xa2\x01\x00\x1a\x09OnFailure2\x00B\x00J\x00R\x00X\x00`\x00h\x00\x82\x01\x00\x8a\x01\
            \x00\x9a\x01\x00\xc2\x01\x00\x1a\x00\x1a\x00\x22\x00",
        json_1_31: Some(
            r#"{"kind":"CronJob","apiVersion":"batch/v1","metadata":{"name":"cj",
              "creationTimestamp":null},"spec":{"schedule":"*/5 * * * *",
              "jobTemplate":{"metadata":{"name":"cj","creationTimestamp":null},
              "spec":{"template":{"metadata":{"creationTimestamp":null},
              "spec":{"containers":[{"name":"cj","image":"busybox","command":["echo","hi"],
              "resources":{}}],"restartPolicy":"OnFailure"}}}}},"status":{}}"#,
        ),
    },
    Capture {
        command: "create serviceaccount sa",
        protobuf:
            b"k8s\x00\x0a\x14\x0a\x02v1\x12\x0eServiceAccount\x12\x14\x0a\x12\x0a\x02sa\x12\x00\
            \x1a\x00\x22\x00*\x002\x008\x00B\x00\x1a\x00\x22\x00",
        json_1_31: Some(
            r#"{"kind":"ServiceAccount","apiVersion":"v1","metadata":{"name":"sa",
              "creationTimestamp":null}}"#,
        ),
    },
    Capture {
        command: "create role r --verb=get,list --resource=pods",
        protobuf:
            b"k8s\x00\x0a$\x0a\x1crbac.authorization.k8s.io/v1\x12\x04Role\x12(\x0a\x11\x0a\x01r\
            \x12\x00\x1a\x00\x22\x00*\x002\x008\x00B\x00\x12\x13\x0a\x03get\x0a\x04list\x12\x00\
            \x1a\x04pods\x1a\x00\x22\x00",
        json_1_31: Some(
            r#"{"kind":"Role","apiVersion":"rbac.authorization.k8s.io/v1","metadata":{"name":"r",
              "creationTimestamp":null},"rules":[{"verbs":["get","list"],"apiGroups":[""],
              "resources":["pods"]}]}"#,
        ),
    },
    Capture {
        command: "create rolebinding rb --role=r --user=alice --serviceaccount=default:sa",
        protobuf:
            b"k8s\x00\x0a+\x0a\x1crbac.authorization.k8s.io/v1\x12\x0bRoleBinding\x12\x87\x01\x0a\
            \x12\x0a\x02rb\x12\x00\x1a\x00\x22\x00*\x002\x008\x00B\x00\x12*\x0a\x04User\x12\x19r\
            bac.authorization.k8s.io\x1a\x05alice\x22\x00\x12\x1f\x0a\x0eServiceAccount\x12\x00\
            \x1a\x02sa\x22\x07default\x1a$\x0a\x19rbac.authorization.k8s.io\x12\x04Role\x1a\x01r\
            \x1a\x00\x22\x00",
        json_1_31: Some(
            r#"{"kind":"RoleBinding","apiVersion":"rbac.authorization.k8s.io/v1",
              "metadata":{"name":"rb","creationTimestamp":null},"subjects":[{"kind":"User",
              "apiGroup":"rbac.authorization.k8s.io","name":"alice"},{"kind":"ServiceAccount",
              "name":"sa","namespace":"default"}],
              "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"r"}}"#,
        ),
    },
    Capture {
        command: "create clusterrole cr --aggregation-rule=a=b",
        protobuf:
            b"k8s\x00\x0a+\x0a\x1crbac.authorization.k8s.io/v1\x12\x0bClusterRole\x12\x20\x0a\x12\
            \x0a\x02cr\x12\x00\x1a\x00\x22\x00*\x002\x008\x00B\x00\x1a\x0a\x0a\x08\x0a\x06\x0a\
            \x01a\x12\x01b\x1a\x00\x22\x00",
        json_1_31: Some(
            r#"{"kind":"ClusterRole","apiVersion":"rbac.authorization.k8s.io/v1",
              "metadata":{"name":"cr","creationTimestamp":null},"rules":null,
              "aggregationRule":{"clusterRoleSelectors":[{"matchLabels":{"a":"b"}}]}}"#,
        ),
    },
    Capture {
        command: "create clusterrole cr2 --verb=get --resource=nodes --non-resource-url=/logs",
        protobuf:
            b"k8s\x00\x0a+\x0a\x1crbac.authorization.k8s.io/v1\x12\x0bClusterRole\x123\x0a\x13\x0a\
            \x03cr2\x12\x00\x1a\x00\x22\x00*\x002\x008\x00B\x00\x12\x0e\x0a\x03get\x12\x00\x1a\
            \x05nodes\x12\x0c\x0a\x03get*\x05/logs\x1a\x00\x22\x00",
        json_1_31: Some(
            r#"{"kind":"ClusterRole","apiVersion":"rbac.authorization.k8s.io/v1",
              "metadata":{"name":"cr2","creationTimestamp":null},"rules":[{"verbs":["get"],
              "apiGroups":[""],"resources":["nodes"]},{"verbs":["get"],
              "nonResourceURLs":["/logs"]}]}"#,
        ),
    },
    Capture {
        command: "create clusterrolebinding crb --clusterrole=cr --group=g",
        protobuf:
            b"k8s\x00\x0a2\x0a\x1crbac.authorization.k8s.io/v1\x12\x12ClusterRoleBinding\x12l\x0a\
            \x13\x0a\x03crb\x12\x00\x1a\x00\x22\x00*\x002\x008\x00B\x00\x12'\x0a\x05Group\x12\
            \x19rbac.authorization.k8s.io\x1a\x01g\x22\x00\x1a,\x0a\x19rbac.authorization.k8s.io\
            \x12\x0bClusterRole\x1a\x02cr\x1a\x00\x22\x00",
        json_1_31: Some(
            r#"{"kind":"ClusterRoleBinding","apiVersion":"rbac.authorization.k8s.io/v1",
              "metadata":{"name":"crb","creationTimestamp":null},"subjects":[{"kind":"Group",
              "apiGroup":"rbac.authorization.k8s.io","name":"g"}],
              "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"cr"}}"#,
        ),
    },
    Capture {
        command: "create quota q --hard=pods=10,requests.cpu=1 --scopes=BestEffort",
        protobuf:
            b"k8s\x00\x0a\x13\x0a\x02v1\x12\x0dResourceQuota\x12F\x0a\x11\x0a\x01q\x12\x00\x1a\x00\
            \x22\x00*\x002\x008\x00B\x00\x12/\x0a\x0c\x0a\x04pods\x12\x04\x0a\x0210\x0a\x13\x0a\
            \x0crequests.cpu\x12\x03\x0a\x011\x12\x0aBestEffort\x1a\x00\x1a\x00\x22\x00",
        json_1_31: Some(
            r#"{"kind":"ResourceQuota","apiVersion":"v1","metadata":{"name":"q",
              "creationTimestamp":null},"spec":{"hard":{"pods":"10","requests.cpu":"1"},
              "scopes":["BestEffort"]},"status":{}}"#,
        ),
    },
    Capture {
        command: "create priorityclass pc --value=1000 --description=hi --preemption-policy=Never",
        protobuf:
            b"k8s\x00\x0a%\x0a\x14scheduling.k8s.io/v1\x12\x0dPriorityClass\x12$\x0a\x12\x0a\x02pc\
            \x12\x00\x1a\x00\x22\x00*\x002\x008\x00B\x00\x10\xe8\x07\x18\x00\x22\x02hi*\x05Never\
            \x1a\x00\x22\x00",
        json_1_31: Some(
            r#"{"kind":"PriorityClass","apiVersion":"scheduling.k8s.io/v1","metadata":{"name":"pc",
              "creationTimestamp":null},"value":1000,"description":"hi",
              "preemptionPolicy":"Never"}"#,
        ),
    },
    Capture {
        command: "create pdb pdb --selector=app=web --min-available=50%",
        protobuf:
            b"k8s\x00\x0a\x20\x0a\x09policy/v1\x12\x13PodDisruptionBudget\x12<\x0a\x13\x0a\x03pdb\
            \x12\x00\x1a\x00\x22\x00*\x002\x008\x00B\x00\x12\x19\x0a\x09\x08\x01\x10\x00\x1a\x03\
            50%\x12\x0c\x0a\x0a\x0a\x03app\x12\x03web\x1a\x0a\x08\x00\x18\x00\x20\x00(\x000\x00\
            \x1a\x00\x22\x00",
        json_1_31: Some(
            r#"{"kind":"PodDisruptionBudget","apiVersion":"policy/v1","metadata":{"name":"pdb",
              "creationTimestamp":null},"spec":{"minAvailable":"50%",
              "selector":{"matchLabels":{"app":"web"}}},"status":{"disruptionsAllowed":0,
              "currentHealthy":0,"desiredHealthy":0,"expectedPods":0}}"#,
        ),
    },
    Capture {
        command: r#"create ingress ing --class=nginx --rule="foo.com/bar*=svc:8080,tls=secret" --default-backend=def:http"#,
        protobuf:
            b"k8s\x00\x0a\x1f\x0a\x14networking.k8s.io/v1\x12\x07Ingress\x12w\x0a\x13\x0a\x03ing\
            \x12\x00\x1a\x00\x22\x00*\x002\x008\x00B\x00\x12\x5c\x0a\x11\x22\x0f\x0a\x03def\x12\
            \x08\x0a\x04http\x10\x00\x12\x11\x0a\x07foo.com\x12\x06secret\x1a-\x0a\x07foo.com\
            \x12\x22\x0a\x20\x0a\x1e\x0a\x04/bar\x12\x0e\x22\x0c\x0a\x03svc\x12\x05\x0a\x00\x10\
            \x90?\x1a\x06Prefix\x22\x05nginx\x1a\x02\x0a\x00\x1a\x00\x22\x00",
        json_1_31: Some(
            r#"{"kind":"Ingress","apiVersion":"networking.k8s.io/v1","metadata":{"name":"ing",
              "creationTimestamp":null},"spec":{"ingressClassName":"nginx",
              "defaultBackend":{"service":{"name":"def","port":{"name":"http"}}},
              "tls":[{"hosts":["foo.com"],"secretName":"secret"}],"rules":[{"host":"foo.com",
              "http":{"paths":[{"path":"/bar","pathType":"Prefix",
              "backend":{"service":{"name":"svc","port":{"number":8080}}}}]}}]},
              "status":{"loadBalancer":{}}}"#,
        ),
    },
    Capture {
        command: "create token sa --duration=10m --audience=api --bound-object-kind=Pod --bound-object-name=p --bound-object-uid=123",
        protobuf:
            b"k8s\x00\x0a(\x0a\x18authentication.k8s.io/v1\x12\x0cTokenRequest\x125\x0a\x10\x0a\
            \x00\x12\x00\x1a\x00\x22\x00*\x002\x008\x00B\x00\x12\x1b\x0a\x03api\x1a\x11\x0a\x03P\
            od\x12\x02v1\x1a\x01p\x22\x03123\x20\xd8\x04\x1a\x04\x0a\x00\x12\x00\x1a\x00\x22\x00",
        json_1_31: Some(
            r#"{"kind":"TokenRequest","apiVersion":"authentication.k8s.io/v1",
              "metadata":{"creationTimestamp":null},"spec":{"audiences":["api"],
              "expirationSeconds":600,"boundObjectRef":{"kind":"Pod","apiVersion":"v1","name":"p",
              "uid":"123"}},"status":{"token":"","expirationTimestamp":null}}"#,
        ),
    },
    Capture {
        command: "auth can-i create deployments.apps --subresource=scale -n kube-system",
        protobuf:
            b"k8s\x00\x0a2\x0a\x17authorization.k8s.io/v1\x12\x17SelfSubjectAccessReview\x12S\x0a\
            \x10\x0a\x00\x12\x00\x1a\x00\x22\x00*\x002\x008\x00B\x00\x125\x0a3\x0a\x0bkube-syste\
            m\x12\x06create\x1a\x04apps\x22\x00*\x0bdeployments2\x05scale:\x00\x1a\x08\x08\x00\
            \x12\x00\x1a\x00\x20\x00\x1a\x00\x22\x00",
        json_1_31: Some(
            r#"{"kind":"SelfSubjectAccessReview","apiVersion":"authorization.k8s.io/v1",
              "metadata":{"creationTimestamp":null},
              "spec":{"resourceAttributes":{"namespace":"kube-system","verb":"create",
              "group":"apps","resource":"deployments","subresource":"scale"}},
              "status":{"allowed":false}}"#,
        ),
    },
    Capture {
        command: "auth can-i --list",
        protobuf:
            b"k8s\x00\x0a1\x0a\x17authorization.k8s.io/v1\x12\x16SelfSubjectRulesReview\x12#\x0a\
            \x10\x0a\x00\x12\x00\x1a\x00\x22\x00*\x002\x008\x00B\x00\x12\x09\x0a\x07default\x1a\
            \x04\x18\x00\x22\x00\x1a\x00\x22\x00",
        json_1_31: Some(
            r#"{"kind":"SelfSubjectRulesReview","apiVersion":"authorization.k8s.io/v1",
              "metadata":{"creationTimestamp":null},"spec":{"namespace":"default"},
              "status":{"resourceRules":null,"nonResourceRules":null,"incomplete":false}}"#,
        ),
    },
    Capture {
        command: "auth whoami",
        protobuf:
            b"k8s\x00\x0a-\x0a\x18authentication.k8s.io/v1\x12\x11SelfSubjectReview\x12\x1a\x0a\
            \x10\x0a\x00\x12\x00\x1a\x00\x22\x00*\x002\x008\x00B\x00\x12\x06\x0a\x04\x0a\x00\x12\
            \x00\x1a\x00\x22\x00",
        json_1_31: Some(
            r#"{"kind":"SelfSubjectReview","apiVersion":"authentication.k8s.io/v1",
              "metadata":{"creationTimestamp":null},"status":{"userInfo":{}}}"#,
        ),
    },
    Capture {
        command: "create secret docker-registry d --docker-server=r --docker-username=u --docker-password=p",
        protobuf:
            b"k8s\x00\x0a\x0c\x0a\x02v1\x12\x06Secret\x12\x87\x01\x0a\x11\x0a\x01d\x12\x00\x1a\x00\
            \x22\x00*\x002\x008\x00B\x00\x12R\x0a\x11.dockerconfigjson\x12={\x22auths\x22:{\x22r\
            \x22:{\x22username\x22:\x22u\x22,\x22password\x22:\x22p\x22,\x22auth\x22:\x22dTpw\
            \x22}}}\x1a\x1ekubernetes.io/dockerconfigjson\x1a\x00\x22\x00",
        json_1_31: Some(
            r#"{"kind":"Secret","apiVersion":"v1","metadata":{"name":"d","creationTimestamp":null},
              "data":{".dockerconfigjson":"eyJhdXRocyI6eyJyIjp7InVzZXJuYW1lIjoidSIsInBhc3N3b3JkIjoicCIsImF1dGgiOiJkVHB3In19fQ=="},
              "type":"kubernetes.io/dockerconfigjson"}"#,
        ),
    },
    Capture {
        command: "create deployment multi --image=nginx --image=redis",
        protobuf:
            b"k8s\x00\x0a\x15\x0a\x07apps/v1\x12\x0aDeployment\x12\xd9\x01\x0a#\x0a\x05multi\x12\
            \x00\x1a\x00\x22\x00*\x002\x008\x00B\x00Z\x0c\x0a\x03app\x12\x05multi\x12\xa3\x01\
            \x08\x01\x12\x0e\x0a\x0c\x0a\x03app\x12\x05multi\x1a\x86\x01\x0a\x1e\x0a\x00\x12\x00\
            \x1a\x00\x22\x00*\x002\x008\x00B\x00Z\x0c\x0a\x03app\x12\x05multi\x12d\x12\x22\x0a\
            \x05nginx\x12\x05nginx*\x00B\x00j\x00r\x00\x80\x01\x00\x88\x01\x00\x90\x01\x00\xa2\
            \x01\x00\x12\x22\x0a\x05redis\x12\x05redis*\x00B\x00j\x00r\x00\x80\x01\x00\x88\x01\
            \x00\x90\x01\x00\xa2\x01\x00\x1a\x002\x00B\x00J\x00R\x00X\x00`\x00h\x00\x82\x01\x00\
            \x8a\x01\x00\x9a\x01\x00\xc2\x01\x00\x22\x02\x0a\x00(\x008\x00\x1a\x0c\x08\x00\x10\
            \x00\x18\x00\x20\x00(\x008\x00\x1a\x00\x22\x00",
        json_1_31: Some(
            r#"{"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"multi",
              "creationTimestamp":null,"labels":{"app":"multi"}},"spec":{"replicas":1,
              "selector":{"matchLabels":{"app":"multi"}},
              "template":{"metadata":{"creationTimestamp":null,"labels":{"app":"multi"}},
              "spec":{"containers":[{"name":"nginx","image":"nginx","resources":{}},
              {"name":"redis","image":"redis","resources":{}}]}},"strategy":{}},"status":{}}"#,
        ),
    },
    Capture {
        command: "create service nodeport np --tcp=80:8080 --node-port=30080",
        protobuf:
            b"k8s\x00\x0a\x0d\x0a\x02v1\x12\x07Service\x12g\x0a\x1d\x0a\x02np\x12\x00\x1a\x00\x22\
            \x00*\x002\x008\x00B\x00Z\x09\x0a\x03app\x12\x02np\x12B\x0a\x1d\x0a\x0780-8080\x12\
            \x03TCP\x18P\x22\x07\x08\x00\x10\x90?\x1a\x00(\x80\xeb\x01\x12\x09\x0a\x03app\x12\
            \x02np\x1a\x00\x22\x08NodePort:\x00B\x00R\x00Z\x00`\x00h\x00\x1a\x02\x0a\x00\x1a\x00\
            \x22\x00",
        json_1_31: Some(
            r#"{"kind":"Service","apiVersion":"v1","metadata":{"name":"np",
              "creationTimestamp":null,"labels":{"app":"np"}},"spec":{"ports":[{"name":"80-8080",
              "protocol":"TCP","port":80,"targetPort":8080,"nodePort":30080}],
              "selector":{"app":"np"},"type":"NodePort"},"status":{"loadBalancer":{}}}"#,
        ),
    },
    Capture {
        command: "create service externalname en --external-name=example.com",
        protobuf:
            b"k8s\x00\x0a\x0d\x0a\x02v1\x12\x07Service\x12W\x0a\x1d\x0a\x02en\x12\x00\x1a\x00\x22\
            \x00*\x002\x008\x00B\x00Z\x09\x0a\x03app\x12\x02en\x122\x12\x09\x0a\x03app\x12\x02en\
            \x1a\x00\x22\x0cExternalName:\x00B\x00R\x0bexample.comZ\x00`\x00h\x00\x1a\x02\x0a\
            \x00\x1a\x00\x22\x00",
        json_1_31: Some(
            r#"{"kind":"Service","apiVersion":"v1","metadata":{"name":"en",
              "creationTimestamp":null,"labels":{"app":"en"}},"spec":{"selector":{"app":"en"},
              "type":"ExternalName","externalName":"example.com"},"status":{"loadBalancer":{}}}"#,
        ),
    },
    Capture {
        command: "autoscale deployment web --min=1 --max=5 --cpu-percent=80",
        protobuf:
            b"k8s\x00\x0a)\x0a\x0eautoscaling/v2\x12\x17HorizontalPodAutoscaler\x12a\x0a\x13\x0a\
            \x03web\x12\x00\x1a\x00\x22\x00*\x002\x008\x00B\x00\x12D\x0a\x1a\x0a\x0aDeployment\
            \x12\x03web\x1a\x07apps/v1\x10\x01\x18\x05\x22\x22\x0a\x08Resource\x22\x16\x0a\x03cp\
            u\x12\x0f\x0a\x0bUtilization\x20P\x1a\x04\x18\x00\x20\x00\x1a\x00\x22\x00",
        json_1_31: None,
    },
    Capture {
        command: "(kubectl 1.32) autoscale deployment web --min=2 --max=5",
        protobuf:
            b"k8s\x00\x0a)\x0a\x0eautoscaling/v1\x12\x17HorizontalPodAutoscaler\x12=\x0a\x13\x0a\
            \x03web\x12\x00\x1a\x00\x22\x00*\x002\x008\x00B\x00\x12\x20\x0a\x1a\x0a\x0aDeploymen\
            t\x12\x03web\x1a\x07apps/v1\x10\x02\x18\x05\x1a\x04\x18\x00\x20\x00\x1a\x00\x22\x00",
        json_1_31: None,
    },
];
