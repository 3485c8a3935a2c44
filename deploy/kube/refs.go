package kube

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// checkReferences follows every name one object gives another: an HPA's
// target, a PDB's or a Service's selector, a ConfigMap or Secret a pod reads.
// The API server accepts all of these dangling; the cluster then just does
// nothing, quietly.
func checkReferences(objs []Object, secretKeys map[string]map[string]bool) []error {
	deployments := map[string]*appsv1.Deployment{}
	configMaps := map[string]bool{}
	for _, o := range objs {
		switch v := o.Obj.(type) {
		case *appsv1.Deployment:
			deployments[v.Name] = v
		case *corev1.ConfigMap:
			configMaps[v.Name] = true
		}
	}
	var errs []error
	covered := map[string]bool{}
	for _, o := range objs {
		switch v := o.Obj.(type) {
		case *autoscalingv2.HorizontalPodAutoscaler:
			errs = append(errs, checkHPA(o, v, deployments)...)
		case *policyv1.PodDisruptionBudget:
			names, err := selected(o, v.Spec.Selector, deployments)
			if err != nil {
				errs = append(errs, err)
			}
			for _, n := range names {
				covered[n] = true
			}
		case *corev1.Service:
			errs = append(errs, checkService(o, v, deployments)...)
		}
	}
	for name := range deployments {
		if !covered[name] {
			errs = append(errs, fmt.Errorf("%s: no PodDisruptionBudget selects its pods", Object{Kind: "Deployment", Name: name}))
		}
	}
	for _, w := range workloads(objs) {
		errs = append(errs, checkPodRefs(w, configMaps, secretKeys)...)
	}
	return errs
}

func checkHPA(o Object, h *autoscalingv2.HorizontalPodAutoscaler, deployments map[string]*appsv1.Deployment) []error {
	ref := h.Spec.ScaleTargetRef
	d, ok := deployments[ref.Name]
	if ref.Kind != "Deployment" || ref.APIVersion != "apps/v1" || !ok {
		return []error{fmt.Errorf("%s: scale target %s %s/%s is not a rendered Deployment", o, ref.APIVersion, ref.Kind, ref.Name)}
	}
	var errs []error
	if d.Spec.Replicas != nil {
		errs = append(errs, fmt.Errorf("%s: Deployment/%s sets replicas, which resets the autoscaler on every apply", o, d.Name))
	}
	if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 2 {
		errs = append(errs, fmt.Errorf("%s: minReplicas below 2 leaves no pod serving during a rollout or drain", o))
	}
	if h.Spec.MinReplicas != nil && *h.Spec.MinReplicas > h.Spec.MaxReplicas {
		errs = append(errs, fmt.Errorf("%s: minReplicas %d above maxReplicas %d", o, *h.Spec.MinReplicas, h.Spec.MaxReplicas))
	}
	return errs
}

// selected returns the Deployments whose pods sel matches; none is an error.
func selected(o Object, sel *metav1.LabelSelector, deployments map[string]*appsv1.Deployment) ([]string, error) {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return nil, fmt.Errorf("%s: selector: %w", o, err)
	}
	if s.Empty() {
		return nil, fmt.Errorf("%s: empty selector matches every pod of the namespace", o)
	}
	var names []string
	for name, d := range deployments {
		if s.Matches(labels.Set(d.Spec.Template.Labels)) {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: selector %s matches no Deployment's pods", o, s)
	}
	return names, nil
}

func checkService(o Object, svc *corev1.Service, deployments map[string]*appsv1.Deployment) []error {
	sel := labels.SelectorFromSet(svc.Spec.Selector)
	for _, d := range deployments {
		if len(svc.Spec.Selector) == 0 || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			continue
		}
		var errs []error
		for _, p := range svc.Spec.Ports {
			if !servesPort(&d.Spec.Template.Spec, p.TargetPort) {
				errs = append(errs, fmt.Errorf("%s: targetPort %s is not a port of Deployment/%s", o, p.TargetPort.String(), d.Name))
			}
		}
		return errs
	}
	return []error{fmt.Errorf("%s: selector %s matches no Deployment's pods", o, sel)}
}

func servesPort(spec *corev1.PodSpec, target intstr.IntOrString) bool {
	for i := range spec.Containers {
		if containerPort(&spec.Containers[i], target.String()) != 0 {
			return true
		}
	}
	return false
}

func checkPodRefs(w workload, configMaps map[string]bool, secretKeys map[string]map[string]bool) []error {
	var errs []error
	secret := func(what, name, key string) {
		keys, ok := secretKeys[name]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%s: %s names Secret %q, which the example Secret file does not document", w.owner, what, name))
		case key != "" && !keys[key]:
			errs = append(errs, fmt.Errorf("%s: %s names key %q of Secret %q, which the example does not list", w.owner, what, key, name))
		}
	}
	configMap := func(what, name string) {
		if !configMaps[name] {
			errs = append(errs, fmt.Errorf("%s: %s names ConfigMap %q, which is not rendered", w.owner, what, name))
		}
	}
	for _, c := range w.spec.Containers {
		for _, e := range c.Env {
			switch {
			case e.ValueFrom == nil:
			case e.ValueFrom.SecretKeyRef != nil:
				secret("env "+e.Name, e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key)
			case e.ValueFrom.ConfigMapKeyRef != nil:
				configMap("env "+e.Name, e.ValueFrom.ConfigMapKeyRef.Name)
			}
		}
		for _, src := range c.EnvFrom {
			if src.ConfigMapRef != nil {
				configMap("envFrom", src.ConfigMapRef.Name)
			}
			if src.SecretRef != nil {
				secret("envFrom", src.SecretRef.Name, "")
			}
		}
	}
	for _, v := range w.spec.Volumes {
		if v.Secret != nil {
			secret("volume "+v.Name, v.Secret.SecretName, "")
			for _, it := range v.Secret.Items {
				secret("volume "+v.Name, v.Secret.SecretName, it.Key)
			}
		}
		if v.ConfigMap != nil {
			configMap("volume "+v.Name, v.ConfigMap.Name)
		}
	}
	return errs
}

// checkNetworkPolicies wants every pod closed by default, in and out, and let
// out somewhere besides DNS: a pod no policy selects talks to anything.
func checkNetworkPolicies(objs []Object) []error {
	var policies []*networkingv1.NetworkPolicy
	for _, o := range objs {
		if p, ok := o.Obj.(*networkingv1.NetworkPolicy); ok {
			policies = append(policies, p)
		}
	}
	var errs []error
	for _, w := range workloads(objs) {
		var denyIn, denyOut, egress bool
		for _, p := range policies {
			sel, err := metav1.LabelSelectorAsSelector(&p.Spec.PodSelector)
			if err != nil || !sel.Matches(labels.Set(w.labels)) {
				continue
			}
			for _, t := range p.Spec.PolicyTypes {
				denyIn = denyIn || (t == networkingv1.PolicyTypeIngress && len(p.Spec.Ingress) == 0)
				denyOut = denyOut || (t == networkingv1.PolicyTypeEgress && len(p.Spec.Egress) == 0)
			}
			for _, e := range p.Spec.Egress {
				for _, port := range e.Ports {
					egress = egress || (port.Port != nil && port.Port.IntValue() != 53)
				}
			}
		}
		switch {
		case !denyIn || !denyOut:
			errs = append(errs, fmt.Errorf("%s: no NetworkPolicy denies its traffic by default (ingress %t, egress %t)", w.owner, denyIn, denyOut))
		case !egress:
			errs = append(errs, fmt.Errorf("%s: no NetworkPolicy lets it reach anything but DNS", w.owner))
		}
	}
	return errs
}
