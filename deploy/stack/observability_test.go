package stack

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"sigs.k8s.io/yaml"
)

const observabilityProfile = "observability"

// The profile's services exist, run only with the profile, and do not
// change the default stack (TestComposeHasEveryProcess counts it exactly).
func TestObservabilityProfileIsOptIn(t *testing.T) {
	t.Parallel()
	def := loadProject(t, nil)
	on := loadProject(t, nil, observabilityProfile)
	for _, name := range observability {
		if _, ok := def.Services[name]; ok {
			t.Errorf("%s runs without the %s profile", name, observabilityProfile)
		}
		s, ok := def.DisabledServices[name]
		if !ok {
			t.Errorf("docker-compose.yml has no service %q", name)
			continue
		}
		if !slices.Equal(s.Profiles, []string{observabilityProfile}) {
			t.Errorf("%s: profiles %v, want [%s]", name, s.Profiles, observabilityProfile)
		}
		service(t, on, name)
	}
	if len(on.Services) != len(def.Services)+len(observability) {
		t.Errorf("with the profile: services %v, want the default %v and %v", on.ServiceNames(), def.ServiceNames(), observability)
	}
	// Nothing of the default stack waits for them: it must start without them.
	for name, s := range def.Services {
		for dep := range s.DependsOn {
			if slices.Contains(observability, dep) {
				t.Errorf("%s depends on %s, which only the %s profile runs", name, dep, observabilityProfile)
			}
		}
	}
}

// Every port any profile publishes is on 127.0.0.1, and the profile's
// services are hardened like the others, writing only where a volume or a
// tmpfs is.
func TestObservabilityServicesAreLocalAndHardened(t *testing.T) {
	t.Parallel()
	p := loadProject(t, nil, "*")
	for name, s := range p.Services {
		for _, port := range s.Ports {
			if port.HostIP != "127.0.0.1" {
				t.Errorf("%s: publishes %s:%s, want it on 127.0.0.1 only", name, port.HostIP, port.Published)
			}
		}
	}
	for _, name := range observability {
		s := service(t, p, name)
		if !s.ReadOnly || !slices.Equal(s.CapDrop, []string{"ALL"}) || !slices.Contains(s.SecurityOpt, "no-new-privileges:true") {
			t.Errorf("%s: read_only %v, cap_drop %v, security_opt %v; want the other services' hardening", name, s.ReadOnly, s.CapDrop, s.SecurityOpt)
		}
		if hc := s.HealthCheck; hc == nil || len(hc.Test) < 2 || hc.Test[0] != "CMD" {
			t.Errorf("%s: no healthcheck in exec form", name)
		}
	}
	published := map[string]uint32{"prometheus": 9090, "grafana": 3000, "jaeger": 16686}
	for name, want := range published {
		s := service(t, p, name)
		if len(s.Ports) != 1 || s.Ports[0].Target != want {
			t.Errorf("%s: ports %+v, want only its UI, %d", name, s.Ports, want)
		}
	}
}

// Every file or directory a service of any profile mounts from the
// repository exists: Docker would otherwise create an empty directory in its
// place and the service would start without its configuration.
func TestComposeMountsExistingFiles(t *testing.T) {
	t.Parallel()
	p := loadProject(t, nil, "*")
	mounts := 0
	for name, s := range p.Services {
		for _, v := range s.Volumes {
			if v.Type != types.VolumeTypeBind {
				continue
			}
			mounts++
			if _, err := os.Stat(v.Source); err != nil {
				t.Errorf("%s: mounts %s, which does not exist", name, v.Source)
			}
			if !v.ReadOnly {
				t.Errorf("%s: mounts %s writable; configuration is mounted read-only", name, v.Source)
			}
		}
	}
	if mounts < 10 {
		t.Fatalf("only %d bind mounts found: is the profile loaded?", mounts)
	}
}

// bindSource returns the repository file s mounts at target, "" if none.
func bindSource(s types.ServiceConfig, target string) string {
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeBind && v.Target == target {
			return v.Source
		}
	}
	return ""
}

// bindTarget returns where s mounts the repository file source, "" if nowhere.
func bindTarget(s types.ServiceConfig, source string) string {
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeBind && v.Source == source {
			return v.Target
		}
	}
	return ""
}

func readYAML(t *testing.T, file string, v any) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

type prometheusConfig struct {
	Global struct {
		ScrapeInterval     string `json:"scrape_interval"`
		EvaluationInterval string `json:"evaluation_interval"`
	} `json:"global"`
	RuleFiles     []string `json:"rule_files"`
	ScrapeConfigs []struct {
		JobName       string `json:"job_name"`
		MetricsPath   string `json:"metrics_path"`
		Scheme        string `json:"scheme"`
		StaticConfigs []struct {
			Targets []string `json:"targets"`
		} `json:"static_configs"`
	} `json:"scrape_configs"`
}

// prometheusFiles returns the prometheus service, the repository file of its
// configuration and where the container reads it (--config.file).
func prometheusFiles(t *testing.T, p *types.Project) (types.ServiceConfig, string, string) {
	t.Helper()
	prom := service(t, p, "prometheus")
	var target string
	for _, arg := range prom.Command {
		if v, ok := strings.CutPrefix(arg, "--config.file="); ok {
			target = v
		}
	}
	source := bindSource(prom, target)
	if target == "" || source == "" {
		t.Fatalf("prometheus: --config.file %q is not a file mounted from the repository (command %v)", target, prom.Command)
	}
	if want := filepath.Join(repoRoot(t), "deploy", "monitoring", "prometheus.yml"); source != want {
		t.Errorf("prometheus: configuration %s, want %s", source, want)
	}
	return prom, source, target
}

// metricsPath is the path the services serve their metrics on, read from
// the code: pkg/httpx.RegisterOps mounts it, with /healthz and /readyz and
// without a token, and each service calls RegisterOps on its engine.
func metricsPath(t *testing.T) string {
	t.Helper()
	m := regexp.MustCompile(`r\.GET\("(/[a-z]+)", MetricsHandler\(`).FindStringSubmatch(readFile(t, "pkg/httpx/health.go"))
	if m == nil {
		t.Fatal("pkg/httpx/health.go: RegisterOps no longer mounts MetricsHandler")
	}
	for _, pkg := range builtFrom {
		file := strings.TrimPrefix(pkg, "./") + "/internal/service/service.go"
		if !strings.Contains(readFile(t, file), "httpx.RegisterOps(engine, ") {
			t.Errorf("%s does not mount the ops routes (httpx.RegisterOps): where is its %s?", file, m[1])
		}
	}
	return m[1]
}

// Prometheus scrapes exactly the three services, each at the host:port the
// compose file gives it and the path the code serves, with its name as the
// job, plainly (no token needed), and evaluates the alert rules, mounted
// where the configuration names them.
func TestPrometheusScrapesTheServices(t *testing.T) {
	t.Parallel()
	p := loadProject(t, nil, observabilityProfile)
	prom, source, target := prometheusFiles(t, p)
	var conf prometheusConfig // strict: an authorization, a relabelling or a typo fails here
	readYAML(t, source, &conf)

	want := map[string]string{} // job -> host:port
	for name := range builtFrom {
		s := service(t, p, name)
		if env(s, "HTTP_ADDR") == "" {
			continue // migrate: no server
		}
		if !slices.Contains([]string(s.Expose), port(s)) {
			t.Errorf("%s: does not expose its HTTP port %s to the network", name, port(s))
		}
		want[name] = net.JoinHostPort(name, port(s))
	}
	if len(want) != 3 {
		t.Fatalf("services with an HTTP_ADDR: %v, want command, query and cache-invalidator", want)
	}
	metrics := metricsPath(t)
	got := map[string]string{}
	for _, sc := range conf.ScrapeConfigs {
		if sc.MetricsPath != "" && sc.MetricsPath != metrics {
			t.Errorf("job %s: metrics_path %s, want %s", sc.JobName, sc.MetricsPath, metrics)
		}
		if sc.Scheme != "" && sc.Scheme != "http" {
			t.Errorf("job %s: scheme %s, want http", sc.JobName, sc.Scheme)
		}
		var targets []string
		for _, st := range sc.StaticConfigs {
			targets = append(targets, st.Targets...)
		}
		if _, dup := got[sc.JobName]; dup || len(targets) != 1 {
			t.Errorf("job %s: targets %v; want one job per service, with one target", sc.JobName, targets)
			continue
		}
		got[sc.JobName] = targets[0]
	}
	for job, addr := range want {
		if got[job] != addr {
			t.Errorf("job %s scrapes %q, want %s (the compose service and its HTTP_ADDR port)", job, got[job], addr)
		}
	}
	for job, addr := range got {
		if _, ok := want[job]; !ok {
			t.Errorf("job %s scrapes %s, which is not one of the services", job, addr)
		}
	}

	// The rules: each rule file resolves, relative to the configuration as
	// Prometheus resolves it, to the rules file mounted there; and the same
	// relative path names it in the repository, where promtool checks it.
	rules := filepath.Join(repoRoot(t), "deploy", "monitoring", "ticketsys.rules.yaml")
	rulesTarget := bindTarget(prom, rules)
	if rulesTarget == "" {
		t.Errorf("prometheus: %s is not mounted", rules)
	}
	if len(conf.RuleFiles) != 1 {
		t.Fatalf("rule_files %v, want the one rules file", conf.RuleFiles)
	}
	rf := conf.RuleFiles[0]
	inContainer := rf
	if !path.IsAbs(rf) {
		inContainer = path.Join(path.Dir(target), rf)
	}
	if inContainer != rulesTarget {
		t.Errorf("rule_files %s is %s in the container, where the rules are mounted at %s", rf, inContainer, rulesTarget)
	}
	if path.IsAbs(rf) || filepath.Join(filepath.Dir(source), filepath.FromSlash(rf)) != rules {
		t.Errorf("rule_files %s does not name %s relative to %s, so promtool check config does not check it", rf, rules, source)
	}
	if conf.Global.ScrapeInterval == "" {
		t.Error("prometheus.yml sets no global scrape_interval")
	}
	if !slices.Contains(prom.Command, "--storage.tsdb.path=/prometheus") {
		t.Errorf("prometheus: command %v does not keep its data in /prometheus", prom.Command)
	}
	for _, v := range prom.Volumes {
		if _, declared := p.Volumes[v.Source]; v.Target == "/prometheus" && (v.Type != types.VolumeTypeVolume || !declared) {
			t.Errorf("prometheus: /prometheus is not a declared named volume: %+v", v)
		}
	}
}

type grafanaDatasource struct {
	Name      string         `json:"name"`
	UID       string         `json:"uid"`
	Type      string         `json:"type"`
	Access    string         `json:"access"`
	URL       string         `json:"url"`
	IsDefault bool           `json:"isDefault"`
	Editable  bool           `json:"editable"`
	JSONData  map[string]any `json:"jsonData"`
}

type grafanaProvider struct {
	Name                  string `json:"name"`
	OrgID                 int    `json:"orgId"`
	Folder                string `json:"folder"`
	Type                  string `json:"type"`
	DisableDeletion       bool   `json:"disableDeletion"`
	AllowUIUpdates        bool   `json:"allowUiUpdates"`
	UpdateIntervalSeconds int    `json:"updateIntervalSeconds"`
	Options               struct {
		Path string `json:"path"`
	} `json:"options"`
}

// provisioningFiles reads the YAML files of the directory grafana mounts at
// /etc/grafana/provisioning/<kind>.
func provisioningFiles(t *testing.T, graf types.ServiceConfig, kind string) []string {
	t.Helper()
	dir := bindSource(graf, "/etc/grafana/provisioning/"+kind)
	if dir == "" {
		t.Fatalf("grafana: nothing mounted at /etc/grafana/provisioning/%s", kind)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("grafana: no provisioning file in %s (%v)", dir, err)
	}
	return files
}

// Grafana gets the Prometheus service as its data source and the shipped
// dashboard from where it is mounted, and the dashboard's data source
// references resolve to that data source.
func TestGrafanaProvisionsTheDashboard(t *testing.T) {
	t.Parallel()
	p := loadProject(t, nil, observabilityProfile)
	graf := service(t, p, "grafana")
	prom := service(t, p, "prometheus")

	var sources []grafanaDatasource
	for _, f := range provisioningFiles(t, graf, "datasources") {
		var file struct {
			APIVersion  int                 `json:"apiVersion"`
			Datasources []grafanaDatasource `json:"datasources"`
		}
		readYAML(t, f, &file)
		sources = append(sources, file.Datasources...)
	}
	if len(sources) != 1 {
		t.Fatalf("grafana: %d data sources provisioned, want the one Prometheus", len(sources))
	}
	ds := sources[0]
	if ds.Type != "prometheus" || ds.UID == "" || ds.Access != "proxy" {
		t.Errorf("data source %+v: want type prometheus, a uid, access proxy (Grafana's server queries it)", ds)
	}
	if len(prom.Ports) != 1 {
		t.Fatalf("prometheus: ports %+v", prom.Ports)
	}
	if want := "http://prometheus:" + strconv.Itoa(int(prom.Ports[0].Target)); ds.URL != want {
		t.Errorf("data source URL %s, want %s (the compose service)", ds.URL, want)
	}

	var providers []grafanaProvider
	for _, f := range provisioningFiles(t, graf, "dashboards") {
		var file struct {
			APIVersion int               `json:"apiVersion"`
			Providers  []grafanaProvider `json:"providers"`
		}
		readYAML(t, f, &file)
		providers = append(providers, file.Providers...)
	}
	dashboard := filepath.Join(repoRoot(t), "deploy", "grafana", "ticketsys-dashboard.json")
	mounted := bindTarget(graf, dashboard)
	if mounted == "" {
		t.Fatalf("grafana: %s is not mounted", dashboard)
	}
	var loaded bool
	for _, pr := range providers {
		if pr.Type != "file" {
			t.Errorf("dashboard provider %s: type %q, want file", pr.Name, pr.Type)
		}
		loaded = loaded || pr.Options.Path == path.Dir(mounted)
	}
	if !loaded {
		t.Errorf("no dashboard provider reads %s, where the dashboard is mounted (providers %+v)", path.Dir(mounted), providers)
	}
	if got := env(graf, "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"); got != "" && got != mounted {
		t.Errorf("grafana: home dashboard %s, but the dashboard is mounted at %s", got, mounted)
	}

	checkDashboardDatasources(t, dashboard, ds)

	// Viewer without logging in, admin with a password that can be set.
	if env(graf, "GF_AUTH_ANONYMOUS_ENABLED") == "true" && env(graf, "GF_AUTH_ANONYMOUS_ORG_ROLE") != "Viewer" {
		t.Errorf("grafana: anonymous role %q, want Viewer", env(graf, "GF_AUTH_ANONYMOUS_ORG_ROLE"))
	}
	if env(graf, "GF_SECURITY_ADMIN_PASSWORD") == "" {
		t.Error("grafana: no admin password by default")
	}
	set := loadProject(t, map[string]string{"GRAFANA_ADMIN_PASSWORD": "from-env"}, observabilityProfile)
	if got := env(service(t, set, "grafana"), "GF_SECURITY_ADMIN_PASSWORD"); got != "from-env" {
		t.Errorf("grafana: GRAFANA_ADMIN_PASSWORD not honoured: %q", got)
	}
}

// checkDashboardDatasources checks every data source reference of the
// dashboard: the provisioned uid itself, or a variable of type datasource
// over the provisioned type, which starts on the default data source, so
// the provisioned one must be the default.
func checkDashboardDatasources(t *testing.T, file string, ds grafanaDatasource) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Templating struct {
			List []struct {
				Name    string          `json:"name"`
				Type    string          `json:"type"`
				Query   any             `json:"query"`
				Current json.RawMessage `json:"current"`
			} `json:"list"`
		} `json:"templating"`
	}
	var tree any
	if json.Unmarshal(b, &d) != nil || json.Unmarshal(b, &tree) != nil {
		t.Fatalf("%s is not JSON", file)
	}
	variables := map[string]bool{} // datasource variables over ds.Type
	for _, v := range d.Templating.List {
		if v.Type == "datasource" {
			if v.Query != ds.Type {
				t.Errorf("dashboard variable $%s lists data sources of type %v, want %s", v.Name, v.Query, ds.Type)
				continue
			}
			variables[v.Name] = true
		}
	}
	var refs []any
	var walk func(any)
	walk = func(x any) {
		switch x := x.(type) {
		case map[string]any:
			for k, v := range x {
				if k == "datasource" {
					refs = append(refs, v)
				}
				walk(v)
			}
		case []any:
			for _, v := range x {
				walk(v)
			}
		}
	}
	walk(tree)
	if len(refs) == 0 {
		t.Fatal("the dashboard references no data source")
	}
	viaVariable := false
	seen := map[string]bool{}
	for _, r := range refs {
		key := fmt.Sprint(r)
		if seen[key] {
			continue
		}
		seen[key] = true
		uid, typ := "", ds.Type
		switch r := r.(type) {
		case string:
			uid = r
		case map[string]any:
			uid, _ = r["uid"].(string)
			if s, ok := r["type"].(string); ok {
				typ = s
			}
		}
		name := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(uid, "${"), "$"), "}")
		switch {
		case typ != ds.Type:
			t.Errorf("dashboard data source %v: type %s, want %s", r, typ, ds.Type)
		case uid == ds.UID:
		case strings.HasPrefix(uid, "$") && variables[name]:
			viaVariable = true
		default:
			t.Errorf("dashboard data source %v is neither uid %s nor a datasource variable over %s", r, ds.UID, ds.Type)
		}
	}
	if viaVariable && !ds.IsDefault {
		t.Errorf("the dashboard picks its data source with a variable, which starts on the default data source: provision %s with isDefault: true", ds.Name)
	}
}

// Traces: the services export to Jaeger only when asked, and the one-liner
// docs/operations.md gives does reach Jaeger's OTLP receiver over the
// services' default protocol.
func TestServicesTraceToJaegerWhenAsked(t *testing.T) {
	t.Parallel()
	traced := []string{"command", "query", "cache-invalidator"}
	def := loadProject(t, nil)
	for _, svc := range traced {
		s := service(t, def, svc)
		for _, v := range tracingVars {
			val, declared := s.Environment[v]
			switch {
			case !declared:
				t.Errorf("%s: %s is not passed to the container", svc, v)
			case val != nil:
				t.Errorf("%s: %s = %q with nothing set; tracing must stay off by default", svc, v, *val)
			}
		}
		if _, ok := s.Environment["OTEL_SERVICE_NAME"]; ok {
			t.Errorf("%s: OTEL_SERVICE_NAME is passed: one value would name the three services alike", svc)
		}
	}
	if _, ok := def.Services["migrate"].Environment["OTEL_EXPORTER_OTLP_ENDPOINT"]; ok {
		t.Error("migrate: traced; it exits before a batch of spans would leave")
	}

	// The documented way to turn it on.
	m := regexp.MustCompile("`OTEL_EXPORTER_OTLP_ENDPOINT=(\\S+) docker compose --profile " + observabilityProfile + " up[^`]*`").
		FindStringSubmatch(readFile(t, "docs/operations.md"))
	if m == nil {
		t.Fatal("docs/operations.md gives no `OTEL_EXPORTER_OTLP_ENDPOINT=... docker compose --profile observability up` line")
	}
	endpoint := m[1]
	vars := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=dev"}
	on := loadProject(t, vars, observabilityProfile)
	jaeger := service(t, on, "jaeger")
	u := parseURL(t, endpoint)
	// The port of each OTLP transport on Jaeger's receiver, and the protocol
	// the services speak with OTEL_EXPORTER_OTLP_PROTOCOL unset.
	protocolOf := map[string]string{"4317": "grpc", "4318": "http/protobuf"}
	if u.Scheme != "http" || u.Hostname() != "jaeger" || protocolOf[u.Port()] != "http/protobuf" {
		t.Errorf("documented endpoint %s: want http://jaeger:4318, Jaeger's OTLP/HTTP receiver (the services' default protocol)", endpoint)
	}
	for otlp := range protocolOf {
		if !slices.Contains([]string(jaeger.Expose), otlp) {
			t.Errorf("jaeger: does not expose OTLP port %s to the network (expose %v)", otlp, jaeger.Expose)
		}
	}
	if env(jaeger, "JAEGER_LISTEN_HOST") != "0.0.0.0" {
		t.Error("jaeger: JAEGER_LISTEN_HOST is not 0.0.0.0; its receivers would not hear the other containers")
	}
	for _, svc := range traced {
		s := service(t, on, svc)
		for name, want := range vars {
			if got := s.Environment[name]; got == nil || *got != want {
				t.Errorf("%s: %s = %v, want the environment's %q", svc, name, got, want)
			}
		}
	}
}
