package kube

import (
	"fmt"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// workload is a pod template with its owner, the unit most rules look at.
type workload struct {
	owner  string // Kind/name
	kind   string
	labels map[string]string
	spec   *corev1.PodSpec
}

func workloads(objs []Object) []workload {
	var ws []workload
	for _, o := range objs {
		switch v := o.Obj.(type) {
		case *appsv1.Deployment:
			ws = append(ws, workload{o.String(), o.Kind, v.Spec.Template.Labels, &v.Spec.Template.Spec})
		case *batchv1.Job:
			ws = append(ws, workload{o.String(), o.Kind, v.Spec.Template.Labels, &v.Spec.Template.Spec})
		}
	}
	return ws
}

// Check applies the project's rules to a rendering; secretKeys lists, per
// Secret name, the keys the example Secret documents (secrets are referenced,
// never rendered). It returns every violation, not only the first.
func Check(objs []Object, secretKeys map[string]map[string]bool) []error {
	var errs []error
	for _, w := range workloads(objs) {
		errs = append(errs, checkPod(w)...)
	}
	errs = append(errs, checkReferences(objs, secretKeys)...)
	errs = append(errs, checkNetworkPolicies(objs)...)
	return errs
}

func checkPod(w workload) []error {
	var errs []error
	fail := func(c, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: container %s: %s", w.owner, c, fmt.Sprintf(format, args...)))
	}
	if len(w.spec.Containers) == 0 {
		return []error{fmt.Errorf("%s: no containers", w.owner)}
	}
	podNonRoot := w.spec.SecurityContext != nil && isTrue(w.spec.SecurityContext.RunAsNonRoot)
	for i := range w.spec.Containers {
		c := &w.spec.Containers[i]
		if msg := imagePinned(c.Image); msg != "" {
			fail(c.Name, "%s", msg)
		}
		for _, msg := range resourcesSet(c) {
			fail(c.Name, "%s", msg)
		}
		for _, msg := range hardened(c, podNonRoot) {
			fail(c.Name, "%s", msg)
		}
		if w.kind != "Deployment" {
			continue // a Job's pod runs to completion: nothing to probe
		}
		if msg := probes(c); msg != "" {
			fail(c.Name, "%s", msg)
		}
		if msg := listensOnItsPort(c); msg != "" {
			fail(c.Name, "%s", msg)
		}
	}
	return errs
}

// imagePinned wants a tag other than latest, or a digest: an unpinned image
// changes under a running Deployment on the next pull.
func imagePinned(image string) string {
	if strings.Contains(image, "@sha256:") {
		return ""
	}
	last := image[strings.LastIndex(image, "/")+1:]
	tag := ""
	if i := strings.LastIndex(last, ":"); i >= 0 {
		tag = last[i+1:]
	}
	switch tag {
	case "":
		return fmt.Sprintf("image %q has no tag", image)
	case "latest":
		return fmt.Sprintf("image %q is not pinned (latest)", image)
	}
	return ""
}

// resourcesSet wants CPU and memory requests (scheduling, and the HPA's
// utilization is relative to the CPU request) and a memory limit. No CPU
// limit is required: it throttles a Go process that bursts briefly.
func resourcesSet(c *corev1.Container) []string {
	var msgs []string
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if q, ok := c.Resources.Requests[r]; !ok || q.IsZero() {
			msgs = append(msgs, "no "+string(r)+" request")
		}
	}
	if q, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok || q.IsZero() {
		msgs = append(msgs, "no memory limit")
	}
	return msgs
}

func hardened(c *corev1.Container, podNonRoot bool) []string {
	sc := c.SecurityContext
	if sc == nil {
		return []string{"no securityContext"}
	}
	var msgs []string
	if !podNonRoot && !isTrue(sc.RunAsNonRoot) {
		msgs = append(msgs, "may run as root (runAsNonRoot)")
	}
	if !isTrue(sc.ReadOnlyRootFilesystem) {
		msgs = append(msgs, "root filesystem is writable")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		msgs = append(msgs, "allowPrivilegeEscalation is not false")
	}
	dropsAll := false
	if sc.Capabilities != nil {
		for _, cap := range sc.Capabilities.Drop {
			dropsAll = dropsAll || cap == "ALL"
		}
	}
	if !dropsAll {
		msgs = append(msgs, "capabilities are not dropped (drop: [ALL])")
	}
	return msgs
}

// probes wants the contract's endpoints: liveness on /healthz (the process),
// readiness on /readyz (its dependencies).
func probes(c *corev1.Container) string {
	switch {
	case !httpProbe(c.LivenessProbe, "/healthz"):
		return "no liveness probe on GET /healthz"
	case !httpProbe(c.ReadinessProbe, "/readyz"):
		return "no readiness probe on GET /readyz"
	}
	for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
		if p != nil && p.HTTPGet != nil && containerPort(c, p.HTTPGet.Port.String()) == 0 {
			return fmt.Sprintf("probe port %s is not a port of the container", p.HTTPGet.Port.String())
		}
	}
	return ""
}

func httpProbe(p *corev1.Probe, path string) bool {
	return p != nil && p.HTTPGet != nil && p.HTTPGet.Path == path
}

// listensOnItsPort compares HTTP_ADDR with the declared container port: the
// probes and the Service go to the port, the process listens on HTTP_ADDR.
func listensOnItsPort(c *corev1.Container) string {
	for _, e := range c.Env {
		if e.Name != "HTTP_ADDR" {
			continue
		}
		port := e.Value[strings.LastIndex(e.Value, ":")+1:]
		if containerPort(c, port) == 0 {
			return fmt.Sprintf("HTTP_ADDR %q listens on a port the container does not declare", e.Value)
		}
		return ""
	}
	return "no HTTP_ADDR: the process would listen on its built-in default, not on a declared port"
}

// containerPort resolves a port name or number to a declared port, or 0.
func containerPort(c *corev1.Container, nameOrNumber string) int32 {
	n, err := strconv.Atoi(nameOrNumber)
	for _, p := range c.Ports {
		if p.Name == nameOrNumber || (err == nil && p.ContainerPort == int32(n)) {
			return p.ContainerPort
		}
	}
	return 0
}

func isTrue(b *bool) bool { return b != nil && *b }
