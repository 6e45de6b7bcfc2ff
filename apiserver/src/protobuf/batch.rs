//! Field tables for batch/v1: Job and CronJob.

use k8s_pb::api::batch::v1 as batch_v1;

use super::json::messages;

messages! {
    "batch.v1" in batch_v1;

    CronJob { metadata, spec, status }
    CronJobSpec {
        schedule, time_zone: "timeZone", starting_deadline_seconds: "startingDeadlineSeconds",
        concurrency_policy: "concurrencyPolicy", suspend, job_template: "jobTemplate",
        successful_jobs_history_limit: "successfulJobsHistoryLimit",
        failed_jobs_history_limit: "failedJobsHistoryLimit",
    }
    CronJobStatus {
        active, last_schedule_time: "lastScheduleTime", last_successful_time: "lastSuccessfulTime",
    }
    Job { metadata, spec, status }
    JobCondition {
        r#type: "type", status, last_probe_time: "lastProbeTime",
        last_transition_time: "lastTransitionTime", reason, message,
    }
    JobSpec {
        parallelism, completions, active_deadline_seconds: "activeDeadlineSeconds",
        pod_failure_policy: "podFailurePolicy", success_policy: "successPolicy",
        backoff_limit: "backoffLimit", backoff_limit_per_index: "backoffLimitPerIndex",
        max_failed_indexes: "maxFailedIndexes", selector, manual_selector: "manualSelector",
        template, ttl_seconds_after_finished: "ttlSecondsAfterFinished",
        completion_mode: "completionMode", suspend, pod_replacement_policy: "podReplacementPolicy",
        managed_by: "managedBy",
    }
    JobStatus {
        conditions, start_time: "startTime", completion_time: "completionTime", active, succeeded,
        failed, terminating, completed_indexes: "completedIndexes", failed_indexes: "failedIndexes",
        uncounted_terminated_pods: "uncountedTerminatedPods", ready,
    }
    JobTemplateSpec { metadata, spec }
    PodFailurePolicy { rules }
    PodFailurePolicyOnExitCodesRequirement { container_name: "containerName", operator, values }
    PodFailurePolicyOnPodConditionsPattern { r#type: "type", status }
    PodFailurePolicyRule {
        action, on_exit_codes: "onExitCodes", on_pod_conditions: "onPodConditions",
    }
    SuccessPolicy { rules }
    SuccessPolicyRule { succeeded_indexes: "succeededIndexes", succeeded_count: "succeededCount" }
    UncountedTerminatedPods { succeeded, failed }
}
