"""mkctl kustomize against the real ``kubectl kustomize`` (kustomize v5) on the same directories:
both YAML streams parsed, the objects equal and in the same order. Then apply -k on a server."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml

from tests.integration.mkctl_harness import mk, ns, run_mkctl  # noqa: F401 - fixtures

DEPLOY = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {tier: fe}}
spec:
  replicas: 1
  selector: {matchLabels: {tier: fe}}
  template:
    metadata: {labels: {tier: fe}}
    spec:
      serviceAccountName: runner
      containers:
      - name: c
        image: nginx:1.25
        envFrom: [{configMapRef: {name: cfg}}]
        env:
        - {name: PW, valueFrom: {secretKeyRef: {name: creds, key: pw}}}
        - {name: OTHER, valueFrom: {configMapKeyRef: {name: not-ours, key: x}}}
      - name: side
        image: registry.local:5000/tools/side@sha256:0000000000000000000000000000000000000000000000000000000000000000
      volumes:
      - {name: v, configMap: {name: cfg}}
      - {name: s, secret: {secretName: creds}}
      - {name: p, projected: {sources: [{configMap: {name: cfg}}, {secret: {name: creds}}]}}
      - {name: d, persistentVolumeClaim: {claimName: data}}
"""

BASE = {
    "kustomization.yaml": """\
        resources: [deploy.yaml, svc.yaml, more.yaml]
        commonLabels: {app: web}
        configMapGenerator:
        - name: cfg
          literals: [a=1, "b='two words'"]
          files: [app.conf, renamed=app.conf]
        secretGenerator:
        - name: creds
          literals: [pw=s3cret]
          envs: [creds.env]
        generatorOptions:
          labels: {generated: "yes"}
        """,
    "deploy.yaml": DEPLOY,
    "svc.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80}]}\n",
    "more.yaml": """\
        apiVersion: v1
        kind: ServiceAccount
        metadata: {name: runner}
        ---
        apiVersion: v1
        kind: PersistentVolumeClaim
        metadata: {name: data}
        spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
        ---
        apiVersion: v1
        kind: List
        items:
        - apiVersion: batch/v1
          kind: CronJob
          metadata: {name: tick}
          spec:
            schedule: "*/5 * * * *"
            jobTemplate:
              spec:
                template:
                  spec:
                    restartPolicy: Never
                    containers: [{name: t, image: busybox, envFrom: [{secretRef: {name: creds}}]}]
        - apiVersion: apps/v1
          kind: StatefulSet
          metadata: {name: db}
          spec:
            serviceName: db
            replicas: 1
            selector: {matchLabels: {role: db}}
            template:
              metadata: {labels: {role: db}}
              spec: {containers: [{name: db, image: busybox}]}
            volumeClaimTemplates:
            - metadata: {name: data}
              spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
        - apiVersion: policy/v1
          kind: PodDisruptionBudget
          metadata: {name: pdb}
          spec: {minAvailable: 1, selector: {matchLabels: {role: db}}}
        - apiVersion: v1
          kind: Namespace
          metadata: {name: extra-ns}
        - apiVersion: rbac.authorization.k8s.io/v1
          kind: ClusterRole
          metadata: {name: reader}
          rules: [{apiGroups: [""], resources: [pods], verbs: [get]}]
        - apiVersion: v1
          kind: Pod
          metadata: {name: lone}
          spec: {containers: [{name: c, image: nginx:1.25}]}
        - apiVersion: batch/v1
          kind: Job
          metadata: {name: once}
          spec: {template: {spec: {restartPolicy: Never, containers: [{name: c, image: busybox}]}}}
        """,
    "app.conf": "port=80\nmode=<fast> & 'safe'\n",
    "creds.env": "# a comment\nuser=admin\n\nhost=db.local\n",
}

OVERLAY = {
    "kustomization.yaml": """\
        resources: [../base, extra.yaml]
        namespace: prod
        namePrefix: prod-
        nameSuffix: -v2
        labels:
        - pairs: {env: prod}
          includeTemplates: true
        - pairs: {team: blue}
        commonAnnotations: {owner: "ops team"}
        images:
        - {name: nginx, newName: my.registry/nginx, newTag: "1.27"}
        - {name: registry.local:5000/tools/side, digest: "sha256:1111111111111111111111111111111111111111111111111111111111111111"}
        - {name: busybox, newTag: "1.36"}
        replicas:
        - {name: web, count: 4}
        configMapGenerator:
        - name: cfg
          behavior: merge
          literals: [a=overridden, c=3]
        patchesStrategicMerge:
        - smp.yaml
        - |-
          apiVersion: v1
          kind: Pod
          metadata: {name: lone}
          $patch: delete
        patches:
        - target: {kind: Deployment, labelSelector: "tier=fe"}
          patch: |-
            - op: add
              path: /spec/template/spec/containers/0/args
              value: ["--fast"]
        - target: {kind: "(Stateful|Daemon)Set"}
          patch: |-
            apiVersion: apps/v1
            kind: StatefulSet
            metadata: {name: any}
            spec:
              template:
                metadata:
                  annotations: {patched: "true"}
        patchesJson6902:
        - target: {group: batch, version: v1, kind: CronJob, name: tick}
          path: cron.yaml
        """,
    "smp.yaml": """\
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        spec:
          template:
            spec:
              containers:
              - name: c
                env:
                - {name: EXTRA, value: "1"}
                resources: {limits: {memory: 128Mi}}
              - name: side
                $patch: delete
        """,
    "cron.yaml": '- {op: replace, path: /spec/schedule, value: "0 * * * *"}\n',
    "extra.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: plain}\ndata: {k: v}\n",
}

NESTED = {
    "kustomization.yaml": """\
        resources: [../overlay]
        namespace: staging
        namePrefix: st-
        generatorOptions: {disableNameSuffixHash: true}
        configMapGenerator:
        - {name: flags, literals: [debug=true]}
        commonLabels: {stage: staging}
        """,
}

# References beyond pod templates (RBAC, Ingress, StatefulSet service, autoscaler target), a
# binary file, a TLS Secret from files, a generator in another namespace, behavior: replace,
# labels with includeSelectors, replicas by the new name, an image renamed only.
REFS_BASE = {
    "kustomization.yaml": """\
        resources: [r.yaml]
        secretGenerator:
        - name: tls
          type: kubernetes.io/tls
          files: [tls.crt, tls.key]
        configMapGenerator:
        - name: bin
          files: [blob.bin]
        - name: env
          namespace: other
          envs: [a.env]
        """,
    "r.yaml": """\
        apiVersion: v1
        kind: ServiceAccount
        metadata: {name: runner}
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: Role
        metadata: {name: reader}
        rules: [{apiGroups: [""], resources: [pods], verbs: [get]}]
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: RoleBinding
        metadata: {name: read}
        roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}
        subjects: [{kind: ServiceAccount, name: runner, namespace: default}]
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: web}
        spec: {selector: {app: web}, ports: [{port: 80}]}
        ---
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata: {name: web}
        spec:
          rules:
          - http:
              paths:
              - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        spec:
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec: {containers: [{name: c, image: nginx}]}
        ---
        apiVersion: autoscaling/v2
        kind: HorizontalPodAutoscaler
        metadata: {name: web}
        spec:
          scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
          minReplicas: 1
          maxReplicas: 3
        ---
        apiVersion: apps/v1
        kind: StatefulSet
        metadata: {name: db}
        spec:
          serviceName: web
          selector: {matchLabels: {app: db}}
          template:
            metadata: {labels: {app: db}}
            spec: {containers: [{name: c, image: nginx}]}
        """,
    "tls.crt": "CERT\n",
    "tls.key": "KEY\n",
    "blob.bin": b"\x00\x01\xff\xfe",
    "a.env": "A=1\nB=2\n",
}

REFS_OVERLAY = {
    "kustomization.yaml": """\
        resources: [../base]
        namespace: team
        namePrefix: t-
        labels:
        - pairs: {owner: me}
          includeSelectors: true
        configMapGenerator:
        - name: bin
          behavior: replace
          literals: [x=y]
        replicas:
        - {name: t-web, count: 2}
        images:
        - {name: nginx, newName: mirror/nginx}
        """,
}


def _write(root: Path, files: dict[str, str | bytes]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        if isinstance(text, bytes):
            (root / name).write_bytes(text)
        else:
            (root / name).write_text(textwrap.dedent(text))


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("kustomize")
    _write(root / "base", BASE)
    _write(root / "overlay", OVERLAY)
    _write(root / "nested", NESTED)
    _write(root / "refs-base", REFS_BASE)
    _write(root / "refs-overlay", REFS_OVERLAY)
    (root / "refs-overlay" / "kustomization.yaml").write_text(
        (root / "refs-overlay" / "kustomization.yaml").read_text().replace("../base", "../refs-base"))
    return root


@pytest.mark.parametrize("target", ["base", "overlay", "nested", "refs-base", "refs-overlay"])
def test_kustomize_output_equals_kubectl_kustomize(kubectl, tree: Path, target: str) -> None:
    k = kubectl("kustomize", str(tree / target))
    assert k.returncode == 0, k.stderr
    m = run_mkctl("kustomize", str(tree / target))
    assert m.code == 0, m.err
    want = [d for d in yaml.safe_load_all(k.stdout) if d is not None]
    got = [d for d in yaml.safe_load_all(m.out) if d is not None]
    ids = [(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]) for d in got]
    assert ids == [(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]) for d in want]
    for g, w in zip(got, want):
        assert g == w, json.dumps({"mkctl": g, "kubectl": w}, indent=1)
    assert m.err == k.stderr


def test_unsupported_field_is_an_error_naming_it(tmp_path) -> None:
    _write(tmp_path, {"kustomization.yaml": "resources: []\nhelmCharts: [{name: x}]\n"})
    r = run_mkctl("kustomize", str(tmp_path))
    assert r.code == 1 and "'helmCharts'" in r.err and "not supported" in r.err
    _write(tmp_path, {"kustomization.yaml": "configMapGenerator: [{name: x, literals: [a=b], weird: 1}]\n"})
    r = run_mkctl("kustomize", str(tmp_path))
    assert r.code == 1 and "'weird'" in r.err


def test_apply_k_creates_the_built_objects(mk, kubectl, ns: str, tmp_path) -> None:
    _write(tmp_path / "app", {
        "kustomization.yaml": f"resources: [svc.yaml]\nnamespace: {ns}\nnamePrefix: k-\n"
                              "configMapGenerator: [{name: cfg, literals: [a=1]}]\n",
        "svc.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80}]}\n",
    })
    built = [d for d in yaml.safe_load_all(run_mkctl("kustomize", str(tmp_path / "app")).out) if d]
    cm_name = next(d["metadata"]["name"] for d in built if d["kind"] == "ConfigMap")
    out = mk("apply", "-k", str(tmp_path / "app")).ok()
    assert out == f"configmap/{cm_name} created\nservice/k-web created\n"
    assert mk("apply", "-k", str(tmp_path / "app")).ok() == f"configmap/{cm_name} unchanged\nservice/k-web unchanged\n"
    assert kubectl("get", "cm", cm_name, "-n", ns).returncode == 0
    assert kubectl("apply", "-k", str(tmp_path / "app")).stdout == out.replace("created", "unchanged")


def test_every_f_verb_takes_k(mk, kubectl, tmp_path) -> None:
    """get, label, delete -k DIR as kubectl's: the kustomization's objects, named as built."""
    outs = {}
    for who in ("kubectl", "mkctl"):
        space = f"k-{who}-{tmp_path.name[-6:]}".lower().replace("_", "-")
        assert kubectl("create", "namespace", space).returncode == 0
        _write(tmp_path / who, {
            "kustomization.yaml": f"namespace: {space}\nresources: [cm.yaml]\n"
                                  "configMapGenerator: [{name: gen, literals: [a=1]}]\n",
            "cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: plain}\ndata: {k: v}\n",
        })
        d = str(tmp_path / who)
        run = (lambda *a: kubectl(*a)) if who == "kubectl" else (lambda *a: mk(*a))
        results = []
        for args in (["apply", "-k", d], ["get", "-k", d, "-o", "name"], ["label", "-k", d, "x=y"],
                     ["get", "-k", d, "-f", f"{d}/cm.yaml"], ["delete", "-k", d], ["get", "-k", d]):
            r = run(*args)
            code, out, err = (r.returncode, r.stdout, r.stderr) if who == "kubectl" else (r.code, r.out, r.err)
            results.append((code, out.replace(space, "NS"), err.replace(space, "NS").replace("mkctl", "kubectl")))
        outs[who] = results
        kubectl("delete", "namespace", space, "--wait=false")
    assert outs["mkctl"] == outs["kubectl"]
