package kube

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// mutate renders base, changes one object of the given kind and name, and
// returns the objects.
func mutate[T any](t *testing.T, kind, name string, change func(T)) []Object {
	t.Helper()
	objs := render(t, "base")
	for i, o := range objs {
		if o.Kind == kind && o.Name == name {
			cp := o.Obj.DeepCopyObject()
			change(cp.(T))
			objs[i].Obj = cp
			return objs
		}
	}
	t.Fatalf("no %s/%s in base", kind, name)
	return nil
}

func container(d *appsv1.Deployment) *corev1.Container { return &d.Spec.Template.Spec.Containers[0] }

// Each rule must catch the mistake it exists for.
func TestCheckCatchesMistakes(t *testing.T) {
	t.Parallel()
	deploy := func(name string, f func(*appsv1.Deployment)) func(*testing.T) []Object {
		return func(t *testing.T) []Object { return mutate(t, "Deployment", name, f) }
	}
	tests := []struct {
		name string
		objs func(*testing.T) []Object
		want string
	}{
		{"no readiness probe", deploy("query", func(d *appsv1.Deployment) { container(d).ReadinessProbe = nil }), "no readiness probe"},
		{"liveness on the wrong path", deploy("query", func(d *appsv1.Deployment) { container(d).LivenessProbe.HTTPGet.Path = "/readyz" }), "no liveness probe"},
		{"probe on an undeclared port", deploy("query", func(d *appsv1.Deployment) {
			container(d).ReadinessProbe.HTTPGet.Port = intstr.FromString("metrics")
		}), "probe port metrics"},
		{"latest image", deploy("command", func(d *appsv1.Deployment) { container(d).Image = "ticketsys/command:latest" }), "not pinned"},
		{"untagged image", deploy("command", func(d *appsv1.Deployment) { container(d).Image = "registry:5000/ticketsys/command" }), "no tag"},
		{"no memory limit", deploy("command", func(d *appsv1.Deployment) { container(d).Resources.Limits = nil }), "no memory limit"},
		{"writable root", deploy("cache-invalidator", func(d *appsv1.Deployment) {
			container(d).SecurityContext.ReadOnlyRootFilesystem = nil
		}), "root filesystem is writable"},
		{"root allowed", deploy("cache-invalidator", func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.SecurityContext.RunAsNonRoot = nil
			container(d).SecurityContext.RunAsNonRoot = nil
		}), "may run as root"},
		{"HTTP_ADDR off the declared port", deploy("query", func(d *appsv1.Deployment) { container(d).Env[0].Value = ":9000" }), `HTTP_ADDR ":9000"`},
		{"replicas beside an HPA", deploy("query", func(d *appsv1.Deployment) { n := int32(3); d.Spec.Replicas = &n }), "sets replicas"},
		{"secret key the example lacks", deploy("query", func(d *appsv1.Deployment) {
			container(d).Env[1].ValueFrom.SecretKeyRef.Key = "read-url"
		}), `key "read-url"`},
		{"missing ConfigMap", deploy("command", func(d *appsv1.Deployment) {
			container(d).EnvFrom[0].ConfigMapRef.Name = "other"
		}), `ConfigMap "other"`},
		{"HPA target missing", func(t *testing.T) []Object {
			return mutate(t, "HorizontalPodAutoscaler", "query", func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Spec.ScaleTargetRef.Name = "reader" })
		}, "not a rendered Deployment"},
		{"PDB selects nothing", func(t *testing.T) []Object {
			return mutate(t, "PodDisruptionBudget", "cache-invalidator", func(p *policyv1.PodDisruptionBudget) {
				p.Spec.Selector.MatchLabels["app.kubernetes.io/name"] = "invalidator"
			})
		}, "Deployment/cache-invalidator: no PodDisruptionBudget"},
		{"secret item the example lacks", deploy("command", func(d *appsv1.Deployment) {
			for i := range d.Spec.Template.Spec.Volumes {
				if v := d.Spec.Template.Spec.Volumes[i].Secret; v != nil && v.SecretName == "ticketsys-nats" {
					v.Items[0].Key = "nats.creds"
				}
			}
		}), `key "nats.creds" of Secret "ticketsys-nats"`},
		{"no default deny", func(t *testing.T) []Object {
			return mutate(t, "NetworkPolicy", "ticketsys-default-deny", func(p *networkingv1.NetworkPolicy) {
				p.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
			})
		}, "no NetworkPolicy denies its traffic by default"},
		{"egress to DNS only", func(t *testing.T) []Object {
			return mutate(t, "NetworkPolicy", "query-egress", func(p *networkingv1.NetworkPolicy) {
				p.Spec.PodSelector.MatchLabels["app.kubernetes.io/name"] = "reader"
			})
		}, "Deployment/query: no NetworkPolicy lets it reach anything but DNS"},
		{"Service port not served", func(t *testing.T) []Object {
			return mutate(t, "Service", "command", func(s *corev1.Service) { s.Spec.Ports[0].TargetPort = intstr.FromInt32(9999) })
		}, "targetPort 9999"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			errs := Check(tc.objs(t), exampleSecrets(t))
			var msgs []string
			for _, err := range errs {
				msgs = append(msgs, err.Error())
			}
			if !strings.Contains(strings.Join(msgs, "\n"), tc.want) {
				t.Errorf("Check = %q, want an error containing %q", msgs, tc.want)
			}
		})
	}
}
