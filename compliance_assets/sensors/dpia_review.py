"""The DPIA sensor: on every tick, recompute each DPIA's fingerprint from the deployed code and the
latest materialisations; launch one review run per changed state (run keys), and close open
reviews whose change was reverted before anyone reviewed it."""


import json

from dagster import DefaultSensorStatus, JobDefinition, RunRequest, SensorDefinition, SensorEvaluationContext, SensorResult, sensor

from compliance_assets.dpia.lineage import review_states
from compliance_assets.tiers import ACTIVITY_TAG
from compliance_assets.jobs.dpia import dpia_asset_key
from compliance_assets.register import Register
from compliance_assets.resources.audit import AuditTrailResource
from compliance_assets.resources.dpia_reviews import DpiaReviewsResource

ACTOR = "sensor:dpia_review"


def build_dpia_review_sensor(register: Register, review_job: JobDefinition, minimum_interval_seconds: int = 60) -> SensorDefinition:
    @sensor(
        name="dpia_review",
        job=review_job,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=DefaultSensorStatus.RUNNING,
        description="Opens a DPIA review when an activity's lineage, data categories, sub-processors, scale, "
        "automated decisions or code change against the approved state.",
    )
    def dpia_review(context: SensorEvaluationContext, dpia_reviews: DpiaReviewsResource, audit_trail: AuditTrailResource) -> SensorResult:
        store = dpia_reviews
        # Per activity: the last state seen and an epoch that moves on whenever the state returns to
        # the approved one, so a change made again after a revert gets a fresh review run.
        cursor = json.loads(context.cursor) if context.cursor else {}
        states = review_states(context.repository_def.asset_graph, context.instance, register, store, sorted(register.dpias))
        requests = []
        for activity, state in states.items():
            seen = cursor.setdefault(activity, {"state": None, "epoch": 0})
            if not state.needs_review:
                closed = store.close_reverted(activity, ACTOR)
                if closed:
                    audit_trail.append("dpia_review_closed", actor=ACTOR, details={"activity": activity, "reason": "reverted", "reviews": closed})
                if seen["state"] not in (None, state.current.identity):
                    seen["epoch"] += 1
                seen["state"] = state.current.identity
                continue
            seen["state"] = state.current.identity
            requests.append(
                RunRequest(
                    run_key=f"dpia-review:{activity}:{state.current.identity}:{seen['epoch']}",
                    asset_selection=[dpia_asset_key(activity)],
                    tags={ACTIVITY_TAG: activity, "dpia/changes": ",".join(sorted({c.kind.value for c in state.changes}))[:63]},
                )
            )
        return SensorResult(run_requests=requests, cursor=json.dumps(cursor, sort_keys=True))

    return dpia_review
