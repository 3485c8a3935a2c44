package kube

import (
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// k8sDir is deploy/k8s, found from this file so tests run from anywhere.
func k8sDir(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no caller information")
	}
	return filepath.Join(filepath.Dir(file), "..", "k8s")
}

func render(t *testing.T, tree string) []Object {
	t.Helper()
	objs, yaml, err := Render(filepath.Join(k8sDir(t), filepath.FromSlash(tree)))
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) == 0 || len(yaml) == 0 {
		t.Fatalf("%s renders nothing", tree)
	}
	return objs
}

func exampleSecrets(t *testing.T) map[string]map[string]bool {
	t.Helper()
	keys, err := SecretKeys(filepath.Join(k8sDir(t), "secret.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func find[T any](t *testing.T, objs []Object, kind, name string) T {
	t.Helper()
	var found T
	ok := false
	for _, o := range objs {
		if o.Kind == kind && o.Name == name {
			found, ok = o.Obj.(T)
			break
		}
	}
	if !ok {
		t.Fatalf("no %s/%s in the rendering", kind, name)
	}
	return found
}

func TestTreesRenderAndPassTheRules(t *testing.T) {
	t.Parallel()
	for _, tree := range []string{"base", "overlays/production"} {
		t.Run(tree, func(t *testing.T) {
			t.Parallel()
			objs := render(t, tree)
			for _, err := range Check(objs, exampleSecrets(t)) {
				t.Error(err)
			}
			var kinds []string
			for _, o := range objs {
				kinds = append(kinds, o.String())
			}
			for _, want := range []string{
				"Deployment/command", "Deployment/query", "Deployment/cache-invalidator",
				"Service/command", "Service/query", "Job/migrate",
				"HorizontalPodAutoscaler/command", "HorizontalPodAutoscaler/query",
				"PodDisruptionBudget/command", "PodDisruptionBudget/query", "PodDisruptionBudget/cache-invalidator",
				"NetworkPolicy/ticketsys-default-deny", "NetworkPolicy/ticketsys-api-ingress",
			} {
				if !slices.Contains(kinds, want) {
					t.Errorf("%s does not render %s (it renders %v)", tree, want, kinds)
				}
			}
		})
	}
}

// Production: two invalidators on the shared durable consumer, R3 streams,
// cluster-mode Redis, release images, NATS credentials where NATS is used.
func TestProductionOverlay(t *testing.T) {
	t.Parallel()
	objs := render(t, "overlays/production")
	inv := find[*appsv1.Deployment](t, objs, "Deployment", "cache-invalidator")
	if inv.Spec.Replicas == nil || *inv.Spec.Replicas != 2 {
		t.Errorf("cache-invalidator replicas = %v, want 2", inv.Spec.Replicas)
	}
	var cm *corev1.ConfigMap
	for _, o := range objs {
		if v, ok := o.Obj.(*corev1.ConfigMap); ok && strings.HasPrefix(v.Name, "ticketsys-config-") {
			cm = v
		}
	}
	if cm == nil {
		t.Fatal("no ticketsys-config ConfigMap (with its content hash)")
	}
	for k, want := range map[string]string{
		"STREAM_REPLICAS": "3", "DLQ_REPLICAS": "3", "REDIS_CLUSTER": "true", "STREAM_MAX_AGE": "168h",
		"LOG_FORMAT": "json",
	} {
		if cm.Data[k] != want {
			t.Errorf("ConfigMap %s = %q, want %q", k, cm.Data[k], want)
		}
	}
	for _, o := range objs {
		if o.Kind != "Namespace" && !strings.Contains(string(o.YAML), "namespace: ticketsys\n") {
			t.Errorf("%s is not in namespace ticketsys", o)
		}
	}
	for _, name := range []string{"command", "cache-invalidator"} {
		d := find[*appsv1.Deployment](t, objs, "Deployment", name)
		c := d.Spec.Template.Spec.Containers[0]
		if !strings.HasPrefix(c.Image, "registry.example.com/ticketsys/"+name+":") {
			t.Errorf("%s image %s is not the release registry's", name, c.Image)
		}
		// Each process its own NATS user: the file at NATS_CREDS is its own key of the Secret.
		var creds string
		for _, e := range c.Env {
			if e.Name == "NATS_CREDS" {
				creds = e.Value
			}
		}
		var own bool
		for _, m := range c.VolumeMounts {
			for _, v := range d.Spec.Template.Spec.Volumes {
				if v.Name != m.Name || v.Secret == nil || v.Secret.SecretName != "ticketsys-nats" {
					continue
				}
				for _, it := range v.Secret.Items {
					own = own || (it.Key == name+".creds" && creds == m.MountPath+"/"+it.Path)
				}
			}
		}
		if !own {
			t.Errorf("%s: NATS_CREDS %q is not its own key %s.creds of Secret ticketsys-nats", name, creds, name)
		}
	}
	for _, name := range []string{"command", "query"} {
		h := find[*autoscalingv2.HorizontalPodAutoscaler](t, objs, "HorizontalPodAutoscaler", name)
		if *h.Spec.MinReplicas < 3 {
			t.Errorf("HPA %s minReplicas %d, want at least 3 in production", name, *h.Spec.MinReplicas)
		}
	}
	job := find[*batchv1.Job](t, objs, "Job", "migrate")
	c := job.Spec.Template.Spec.Containers[0]
	if !slices.Equal(c.Args, []string{"migrate"}) || !strings.Contains(c.Image, "/command:") {
		t.Errorf("migrate Job runs %s %v, want the command image with [migrate]", c.Image, c.Args)
	}
}
