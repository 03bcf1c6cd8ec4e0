"""The parley chart inside other charts: a parent's `global` keys are accepted, every
Deployment takes extra env, volumes, init containers, probe overrides and a preStop delay,
PostgreSQL and Redis can be given as host, port and user with the password in the Secret a
Bitnami or CloudNativePG chart made, and chat can scale on its open streams."""

from __future__ import annotations

import re

from support import charts

SERVICES = ("auth", "chat")


def deployment(manifests: list[charts.Manifest], component: str) -> charts.Manifest:
    return charts.named(manifests, "Deployment", f"parley-{component}")


def expanded(container: charts.Manifest, secrets: dict[str, str]) -> dict[str, str]:
    """The container's environment as the kubelet builds it: Secret references read from
    `secrets` (by `name/key`), then `$(NAME)` in a value replaced by an earlier variable."""
    seen: dict[str, str] = {}
    for variable in container["env"]:
        if "valueFrom" in variable:
            reference = variable["valueFrom"]["secretKeyRef"]
            seen[variable["name"]] = secrets[f"{reference['name']}/{reference['key']}"]
        else:
            seen[variable["name"]] = re.sub(
                r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                lambda match: seen.get(match[1], match[0]),
                variable["value"],
            )
    return seen


def test_a_parent_chart_may_set_any_global_key() -> None:
    manifests = charts.template(
        "parley", "--set", "global.postgresql.auth.username=x", "--set", "global.storageClass=y"
    )
    assert charts.of_kind(manifests, "Deployment")


def test_database_and_redis_given_as_parts_with_a_password_from_an_existing_secret() -> None:
    manifests = charts.template(
        "parley",
        "--set",
        "externalDatabase.host=pg-rw.db.svc",
        "--set",
        "externalDatabase.user=app",
        "--set",
        "externalDatabase.database=chat",
        "--set",
        "externalDatabase.parameters=sslmode=require",
        "--set",
        "externalDatabase.passwordSecret=pg-app",
        "--set",
        "externalRedis.host=redis-master",
        "--set",
        "externalRedis.passwordSecret=redis",
        "--set",
        "externalRedis.database=2",
    )
    secrets = {"pg-app/password": "s3cret-pw", "redis/redis-password": "r3dis"}
    for workload, pod in charts.pod_specs(manifests):
        if workload["kind"] == "Pod":
            continue  # the `helm test` Pods need no connection settings
        (container,) = pod["containers"]
        secrets |= {
            f"{s['metadata']['name']}/{key}": charts.b64(value)
            for s in charts.of_kind(manifests, "Secret")
            for key, value in s["data"].items()
        }
        env = expanded(container, secrets)
        where = workload["metadata"]["name"]
        assert env["PARLEY_DATABASE_URL"] == (
            "postgresql://app:s3cret-pw@pg-rw.db.svc:5432/chat?sslmode=require"
        ), where
        if workload["kind"] == "Deployment":
            assert env["PARLEY_REDIS_URL"] == "redis://:r3dis@redis-master:6379/2", where
    # The URLs are not stored by the chart at all.
    assert not [
        s for s in charts.of_kind(manifests, "Secret") if "connection" in s["metadata"]["name"]
    ]


def test_redis_without_a_password_and_with_tls() -> None:
    manifests = charts.template(
        "parley", "--set", "externalRedis.host=redis", "--set", "externalRedis.tls=true"
    )
    (container,) = deployment(manifests, "chat")["spec"]["template"]["spec"]["containers"]
    assert charts.env(container)["PARLEY_REDIS_URL"] == "rediss://redis:6379/0"
    assert "PARLEY_REDIS_PASSWORD" not in charts.env(container)


def test_a_database_host_without_a_password_secret_fails_the_render() -> None:
    assert "externalDatabase.passwordSecret" in charts.render_error(
        "parley", "--set", "externalDatabase.host=pg"
    )


def test_every_deployment_takes_extra_volumes_init_containers_env_and_probe_overrides() -> None:
    arguments = []
    for component in SERVICES:
        arguments += [
            "--set",
            f"{component}.extraVolumes[0].name=ca",
            "--set",
            f"{component}.extraVolumes[0].configMap.name=corporate-ca",
            "--set",
            f"{component}.extraVolumeMounts[0].name=ca",
            "--set",
            f"{component}.extraVolumeMounts[0].mountPath=/etc/ssl/corporate",
            "--set",
            f"{component}.initContainers[0].name=wait",
            "--set",
            f"{component}.initContainers[0].image=busybox",
            "--set",
            f"{component}.extraEnv[0].name=SSL_CERT_DIR",
            "--set",
            f"{component}.extraEnv[0].value=/etc/ssl/corporate",
            "--set",
            f"{component}.podAnnotations.team=chat",
            "--set",
            f"{component}.probes.readiness.periodSeconds=11",
            "--set",
            f"{component}.probes.liveness.failureThreshold=7",
            "--set",
            f"{component}.preStopDelaySeconds=9",
        ]
    manifests = charts.template("parley", *arguments)
    for component in SERVICES:
        pod = deployment(manifests, component)["spec"]["template"]
        (container,) = pod["spec"]["containers"]
        assert pod["metadata"]["annotations"]["team"] == "chat"
        assert {"name": "ca", "configMap": {"name": "corporate-ca"}} in pod["spec"]["volumes"]
        assert {"name": "ca", "mountPath": "/etc/ssl/corporate"} in container["volumeMounts"]
        assert pod["spec"]["initContainers"][0]["name"] == "wait"
        assert charts.env(container)["SSL_CERT_DIR"] == "/etc/ssl/corporate"
        assert container["readinessProbe"]["periodSeconds"] == 11
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["failureThreshold"] == 7
        assert container["livenessProbe"]["grpc"] == {"port": 50051}
        assert container["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "9"]


def test_the_pre_stop_delay_can_be_left_out() -> None:
    manifests = charts.template(
        "parley", "--set", "auth.preStopDelaySeconds=0", "--set", "chat.preStopDelaySeconds=0"
    )
    for component in SERVICES:
        (container,) = deployment(manifests, component)["spec"]["template"]["spec"]["containers"]
        assert "lifecycle" not in container


def test_chat_can_scale_on_its_open_streams_as_well_as_cpu() -> None:
    manifests = charts.template(
        "parley",
        "--set",
        "chat.autoscaling.enabled=true",
        "--set",
        "chat.autoscaling.streamConnections.enabled=true",
        "--set",
        "chat.autoscaling.streamConnections.averageValue=800",
    )
    hpa = charts.named(manifests, "HorizontalPodAutoscaler", "parley-chat")
    kinds = [metric["type"] for metric in hpa["spec"]["metrics"]]
    assert kinds == ["Resource", "Pods"]
    (streams,) = (m["pods"] for m in hpa["spec"]["metrics"] if m["type"] == "Pods")
    assert streams["metric"]["name"] == "parley_stream_connections"
    assert streams["target"] == {"type": "AverageValue", "averageValue": "800"}


def test_the_operator_takes_the_same_extras() -> None:
    manifests = charts.template(
        "parley-operator",
        "--set",
        "extraVolumes[0].name=ca",
        "--set",
        "extraVolumes[0].configMap.name=corporate-ca",
        "--set",
        "extraVolumeMounts[0].name=ca",
        "--set",
        "extraVolumeMounts[0].mountPath=/etc/ssl/corporate",
        "--set",
        "initContainers[0].name=wait",
        "--set",
        "initContainers[0].image=busybox",
        "--set",
        "probes.liveness.periodSeconds=60",
        "--set",
        "preStopDelaySeconds=3",
        "--set",
        "global.anything.at.all=1",
    )
    (operator,) = charts.of_kind(manifests, "Deployment")
    pod = operator["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert {"name": "ca", "configMap": {"name": "corporate-ca"}} in pod["volumes"]
    assert {"name": "ca", "mountPath": "/etc/ssl/corporate"} in container["volumeMounts"]
    assert pod["initContainers"][0]["name"] == "wait"
    assert container["livenessProbe"]["periodSeconds"] == 60
    assert container["livenessProbe"]["httpGet"]["port"] == "health"
    assert container["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "3"]
    (default,) = charts.of_kind(charts.template("parley-operator"), "Deployment")
    assert "lifecycle" not in default["spec"]["template"]["spec"]["containers"][0]
