package deploy_test

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/attendance-pipeline/attnd/internal/ingest"
	"github.com/attendance-pipeline/attnd/internal/obs"
	"github.com/attendance-pipeline/attnd/internal/push"
	"github.com/attendance-pipeline/attnd/internal/pusher"
	"github.com/prometheus/client_golang/prometheus"
)

// repo is the repository root; the tests run in deploy/.
var repo = os.DirFS("..")

const (
	composeFile    = "deploy/compose/docker-compose.yaml"
	k8sDir         = "deploy/k8s"
	alertsFile     = "deploy/observability/alerts.yaml"
	alertsUnitFile = "deploy/observability/alerts_test.yaml"
	dashboardFile  = "deploy/observability/grafana-dashboard.json"
	promFile       = "deploy/observability/prometheus.yaml"
	readmeFile     = "deploy/README.md"
	ingestExample  = "deploy/compose/config/ingest.yaml"
	pusherExample  = "deploy/compose/config/pusher.yaml"
)

var (
	dockerfiles = []string{"deploy/docker/Dockerfile.ingest", "deploy/docker/Dockerfile.pusher"}
	units       = []string{"deploy/systemd/attnd-ingest.service", "deploy/systemd/attnd-pusher.service", "deploy/systemd/attnd-devstack.service"}
)

// The checkers as func(fs.FS) error, so the real tree and the broken trees
// of TestCheckersRejectBrokenFiles run the very same code.

func composeCheck(fsys fs.FS) error { return checkCompose(fsys, composeFile) }
func k8sCheck(fsys fs.FS) error     { return checkK8s(fsys, k8sDir) }

func dockerCheck(name string) func(fs.FS) error {
	return func(fsys fs.FS) error { return checkDockerfile(fsys, name) }
}

func unitCheck(name string) func(fs.FS) error {
	return func(fsys fs.FS) error { return checkUnit(fsys, name) }
}

func alertsCheck(fsys fs.FS) error {
	exprs, err := checkAlerts(fsys, alertsFile)
	doc, derr := documentedMetrics(fsys, readmeFile)
	if derr != nil {
		return errors.Join(err, derr)
	}
	return errors.Join(err, checkMetricsDocumented(alertsFile, exprs, doc))
}

func dashboardCheck(fsys fs.FS) error {
	exprs, err := checkDashboard(fsys, dashboardFile)
	doc, derr := documentedMetrics(fsys, readmeFile)
	if derr != nil {
		return errors.Join(err, derr)
	}
	return errors.Join(err, checkMetricsDocumented(dashboardFile, exprs, doc))
}

func ingestExampleCheck(fsys fs.FS) error {
	raw, err := fs.ReadFile(fsys, ingestExample)
	if err != nil {
		return err
	}
	_, err = checkIngestConfig(raw)
	return err
}

func pusherExampleCheck(fsys fs.FS) error {
	raw, err := fs.ReadFile(fsys, pusherExample)
	if err != nil {
		return err
	}
	return checkPusherConfig(raw)
}

func TestEveryYAMLJSONAndXMLParses(t *testing.T) {
	n := 0
	err := fs.WalkDir(repo, "deploy", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name := strings.TrimSuffix(p, ".example")
		switch {
		case strings.HasSuffix(name, ".yaml"), strings.HasSuffix(name, ".yml"):
			n++
			if _, err := yamlDocs(repo, p); err != nil {
				t.Error(err)
			}
		case strings.HasSuffix(name, ".json"):
			n++
			raw, _ := fs.ReadFile(repo, p)
			var v any
			if err := json.Unmarshal(raw, &v); err != nil {
				t.Errorf("%s: %v", p, err)
			}
		case strings.HasSuffix(name, ".xml"):
			n++
			raw, _ := fs.ReadFile(repo, p)
			dec := xml.NewDecoder(strings.NewReader(string(raw)))
			for {
				_, err := dec.Token()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Errorf("%s: %v", p, err)
					break
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 15 {
		t.Errorf("only %d YAML/JSON/XML files found under deploy/", n)
	}
	// .dockerignore must keep the build context small but the build possible.
	raw, err := fs.ReadFile(repo, ".dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		for _, needed := range []string{"cmd", "internal", "schemas", "go.mod", "go.sum", "deploy/secretenv", "deploy/healthprobe", "deploy", "deploy/docker"} {
			if line == needed || line == needed+"/" || line == "/"+needed {
				t.Errorf(".dockerignore excludes %s, which the image build needs", needed)
			}
		}
	}
}

func TestCompose(t *testing.T) {
	if err := composeCheck(repo); err != nil {
		t.Error(err)
	}
	docs, _ := yamlDocs(repo, composeFile)
	services := mapOf(docs[0], "services")
	for _, want := range []string{"kafka", "clickhouse", "ftp", "ingest", "pusher", "pusher-migrate"} {
		if services[want] == nil {
			t.Errorf("compose: no service %s", want)
		}
	}
	if img := str(services["kafka"], "image"); !strings.HasPrefix(img, "apache/kafka:") {
		t.Errorf("kafka image %s is not apache/kafka", img)
	}
	if str(services["kafka"], "environment", "KAFKA_PROCESS_ROLES") != "broker,controller" {
		t.Error("kafka is not a KRaft combined broker/controller")
	}
	prom, err := yamlDocs(repo, "deploy/compose/prometheus/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	jobs := map[string]bool{}
	for _, sc := range listOf(prom[0], "scrape_configs") {
		jobs[str(sc, "job_name")] = true
	}
	if !jobs["attnd-ingest"] || !jobs["attnd-pusher"] {
		t.Errorf("compose Prometheus scrapes %v, want jobs attnd-ingest and attnd-pusher", jobs)
	}
	if img := str(services["clickhouse"], "image"); !strings.HasPrefix(img, "clickhouse/clickhouse-server:") {
		t.Errorf("clickhouse image %s", img)
	}
	// The ports of the observability listener agree: config, healthcheck, published port.
	raw, _ := fs.ReadFile(repo, ingestExample)
	cfg, err := checkIngestConfig(raw)
	if err != nil {
		t.Fatal(err)
	}
	pusherRaw, _ := fs.ReadFile(repo, pusherExample)
	var pusherDoc map[string]any
	if err := yamlUnmarshal(pusherRaw, &pusherDoc); err != nil {
		t.Fatal(err)
	}
	for svc, listen := range map[string]string{"ingest": cfg.HTTP.Listen, "pusher": str(pusherDoc, "http", "listen")} {
		port := listenPort(listen)
		if port == "" || strings.HasPrefix(listen, "127.") {
			t.Errorf("%s: http.listen %q must listen on all interfaces in a container", svc, listen)
		}
		test := fmt.Sprint(listOf(services[svc], "healthcheck", "test"))
		if !strings.Contains(test, ":"+port+"/readyz") {
			t.Errorf("%s: healthcheck %s does not probe /readyz on port %s", svc, test, port)
		}
		if ports := fmt.Sprint(listOf(services[svc], "ports")); !strings.Contains(ports, ":"+port) {
			t.Errorf("%s: ports %s do not publish %s", svc, ports, port)
		}
		df, _ := fs.ReadFile(repo, "deploy/docker/Dockerfile."+svc)
		if !strings.Contains(string(df), "EXPOSE "+port) || !strings.Contains(string(df), "127.0.0.1:"+port+"/healthz") {
			t.Errorf("Dockerfile.%s does not EXPOSE and HEALTHCHECK port %s", svc, port)
		}
	}
	// Every *_env of the configs is delivered as a secret to the service.
	for svc, names := range map[string][]string{
		"ingest": {"FTP_PASSWORD", "ATTND_CARD_KEY"},
		"pusher": {"CLICKHOUSE_PASSWORD", "DAOU_CLIENT_ID", "DAOU_CLIENT_SECRET", "ATTND_CARD_KEY"},
	} {
		targets := map[string]bool{}
		for _, s := range listOf(services[svc], "secrets") {
			targets[str(s, "target")] = true
		}
		for _, n := range names {
			if !targets[n] {
				t.Errorf("compose: %s gets no secret with target %s", svc, n)
			}
		}
	}
	for _, s := range cfg.Sources {
		if s.PasswordEnv != "" && !strings.Contains(fmt.Sprint(listOf(services["ingest"], "secrets")), s.PasswordEnv) {
			t.Errorf("compose: source %s reads %s, which the ingest service does not get", s.Name, s.PasswordEnv)
		}
	}
	for _, env := range envNames(pusherDoc) {
		if !strings.Contains(fmt.Sprint(listOf(services["pusher"], "secrets")), env) {
			t.Errorf("compose: pusher config reads %s, which the pusher service does not get", env)
		}
	}
}

// envNames lists the values of every *_env key of a config.
func envNames(v any) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if s, ok := val.(string); ok && strings.HasSuffix(k, "_env") {
				out = append(out, s)
			} else {
				out = append(out, envNames(val)...)
			}
		}
	case []any:
		for _, val := range x {
			out = append(out, envNames(val)...)
		}
	}
	sort.Strings(out)
	return out
}

func TestKubernetes(t *testing.T) {
	if err := k8sCheck(repo); err != nil {
		t.Error(err)
	}
	docs, err := k8sLoad(repo, k8sDir)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	secretKeys := map[string]map[string]any{}
	var pusherCfg map[string]any
	for _, d := range docs {
		kinds[d.kind()]++
		if d.kind() == "Secret" {
			secretKeys[d.name()] = mapOf(d.doc, "stringData")
		}
		if d.kind() == "ConfigMap" && d.name() == "attnd-pusher-config" {
			raw := str(d.doc, "data", "pusher.yaml")
			if err := checkPusherConfig([]byte(raw)); err != nil {
				t.Errorf("pusher ConfigMap: %v", err)
			}
			yamlUnmarshal([]byte(raw), &pusherCfg)
		}
	}
	for _, k := range []string{"Namespace", "ConfigMap", "Secret", "Deployment", "Service", "PersistentVolumeClaim", "HorizontalPodAutoscaler", "Kustomization"} {
		if kinds[k] == 0 {
			t.Errorf("k8s: no %s", k)
		}
	}
	// Every secret the pusher config names is a key of the pusher's Secret.
	for _, env := range envNames(pusherCfg) {
		if _, ok := secretKeys["attnd-pusher-secrets"][env]; !ok {
			t.Errorf("k8s: pusher config reads %s, not a key of Secret attnd-pusher-secrets", env)
		}
	}
	for _, d := range docs {
		if d.kind() != "ConfigMap" || d.name() != "attnd-ingest-config" {
			continue
		}
		cfg, err := ingest.ParseConfig([]byte(str(d.doc, "data", "ingest.yaml")), fakeEnv)
		if err != nil {
			t.Fatal(err)
		}
		var envs []string
		for _, s := range cfg.Sources {
			envs = append(envs, s.PasswordEnv)
		}
		for _, s := range cfg.Sites {
			envs = append(envs, s.CardKeyEnv)
		}
		if cfg.Kafka.SASL.Mechanism != "" {
			envs = append(envs, cfg.Kafka.SASL.PasswordEnv)
		}
		for _, env := range envs {
			if _, ok := secretKeys["attnd-ingest-secrets"][env]; env != "" && !ok {
				t.Errorf("k8s: ingest config reads %s, not a key of Secret attnd-ingest-secrets", env)
			}
		}
		if listenPort(cfg.HTTP.Listen) != "9464" {
			t.Errorf("k8s: ingest listens on %s, the Deployment on 9464", cfg.HTTP.Listen)
		}
	}
}

// TestKustomizeBuild renders the kustomization where kubectl is installed.
func TestKustomizeBuild(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl not installed: kustomization checked structurally only")
	}
	out, err := exec.Command(kubectl, "kustomize", filepath.Join("..", k8sDir)).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl kustomize: %v\n%s", err, out)
	}
	docs := regexp.MustCompile(`(?m)^kind: (\w+)$`).FindAllStringSubmatch(string(out), -1)
	var kinds []string
	for _, d := range docs {
		kinds = append(kinds, d[1])
	}
	sort.Strings(kinds)
	if got := strings.Join(kinds, ","); got != "ConfigMap,ConfigMap,Deployment,Deployment,HorizontalPodAutoscaler,Namespace,PersistentVolumeClaim,PodDisruptionBudget,Service,Service" {
		t.Errorf("kubectl kustomize rendered %s", got)
	}
	if strings.Contains(string(out), "CHANGE_ME") {
		t.Error("the rendered kustomization carries placeholder secrets")
	}
}

func TestDockerfiles(t *testing.T) {
	for _, df := range dockerfiles {
		if err := checkDockerfile(repo, df); err != nil {
			t.Error(err)
		}
		raw, _ := fs.ReadFile(repo, df)
		if !strings.Contains(string(raw), "distroless/static") && !strings.Contains(string(raw), "FROM scratch") {
			t.Errorf("%s: final image is neither distroless static nor scratch", df)
		}
	}
}

func TestSystemdUnits(t *testing.T) {
	for _, u := range units {
		if err := checkUnit(repo, u); err != nil {
			t.Error(err)
		}
	}
	// Where systemd is installed, let it verify the units too, with the
	// binaries replaced by /bin/true (they are not installed here).
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze not installed: INI checks only")
		return
	}
	dir := t.TempDir()
	var paths []string
	for _, u := range units {
		raw, _ := fs.ReadFile(repo, u)
		text := regexp.MustCompile(`/usr/local/bin/(ingest|pusher|devstack)`).ReplaceAllString(string(raw), "/bin/true")
		p := filepath.Join(dir, path.Base(u))
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	out, err := exec.Command(sa, append([]string{"verify"}, paths...)...).CombinedOutput()
	// verify exits 0 on unknown keys and bad values, but prints them as
	// FILE:LINE: messages; anything naming our files is a finding.
	if strings.Contains(string(out), dir) {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	} else if err != nil {
		// Without systemd as PID 1 verify can fail for reasons of its own.
		t.Logf("systemd-analyze verify could not run here: %v\n%s", err, out)
	}
}

func TestAlerts(t *testing.T) {
	if err := alertsCheck(repo); err != nil {
		t.Error(err)
	}
	exprs, _ := checkAlerts(repo, alertsFile)
	all := strings.Join(exprs, "\n")
	// What the issue asks the alerts to cover.
	for what, needle := range map[string]string{
		"no file for N hours per source": "sum by (source) (increase(attnd_ingest_files_total",
		"rejects rate":                   "attnd_ingest_rejects_total",
		"unmatched people":               "attnd_unmatched_people",
		"Daou 903 blocked":               `result="blocked"`,
		"Daou 905 rate":                  `result="rate_limited"`,
		"consumer lag":                   "deriv(max by (group, topic) (attnd_consumer_lag)",
		"ingest down":                    `up{job="attnd-ingest"}`,
		"pusher down":                    `up{job="attnd-pusher"}`,
	} {
		if !strings.Contains(all, needle) {
			t.Errorf("no alert covers %s (%s)", what, needle)
		}
	}
	// The promtool unit tests of the rules use documented series only.
	doc, _ := documentedMetrics(repo, readmeFile)
	unit, err := fs.ReadFile(repo, alertsUnitFile)
	if err != nil {
		t.Fatal(err)
	}
	var series []string
	for _, m := range regexp.MustCompile(`series: '([^']+)'`).FindAllStringSubmatch(string(unit), -1) {
		series = append(series, m[1])
	}
	if len(series) == 0 {
		t.Errorf("%s: no input series", alertsUnitFile)
	}
	if err := checkMetricsDocumented(alertsUnitFile, series, doc); err != nil {
		t.Error(err)
	}
	if p, err := exec.LookPath("promtool"); err != nil {
		t.Error("promtool not installed (scripts/setup-promtool.sh, run by make test): the alert rules and their unit tests need it")
	} else {
		out, err := exec.Command(p, "check", "rules", filepath.Join("..", alertsFile)).CombinedOutput()
		if err != nil {
			t.Errorf("promtool check rules: %v\n%s", err, out)
		}
		cmd := exec.Command(p, "test", "rules", path.Base(alertsUnitFile))
		cmd.Dir = filepath.Join("..", path.Dir(alertsUnitFile))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool test rules: %v\n%s", err, out)
		}
	}
	// The scrape config names the jobs the alerts select on.
	raw, _ := fs.ReadFile(repo, promFile)
	for _, job := range []string{"attnd-ingest", "attnd-pusher"} {
		if !strings.Contains(string(raw), "job_name: "+job) {
			t.Errorf("%s: no job %s", promFile, job)
		}
	}
}

func TestDashboard(t *testing.T) {
	if err := dashboardCheck(repo); err != nil {
		t.Error(err)
	}
	exprs, _ := checkDashboard(repo, dashboardFile)
	all := strings.Join(exprs, "\n")
	for what, needle := range map[string]string{
		"files by state":      "sum by (state) (attnd_ingest_files)",
		"events rate":         "rate(attnd_ingest_events_total",
		"rejects rate":        "rate(attnd_ingest_rejects_total",
		"unmatched people":    "attnd_unmatched_people",
		"push outcomes":       "sum by (result) (rate(attnd_push_sends_total",
		"Daou 903":            `result="blocked"`,
		"Daou 905":            `result="rate_limited"`,
		"consumer lag":        "attnd_consumer_lag",
		"Kafka write latency": "attnd_ingest_kafka_write_seconds_bucket",
	} {
		if !strings.Contains(all, needle) {
			t.Errorf("no dashboard panel shows %s (%s)", what, needle)
		}
	}
}

// descNames registers nothing: it collects the descriptions of what a
// constructor registers.
type descNames map[string]string // fqName -> variable labels

func (d descNames) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc, 16)
	go func() { c.Describe(ch); close(ch) }()
	re := regexp.MustCompile(`fqName: "([^"]+)".*variableLabels: \{([^}]*)\}`)
	for desc := range ch {
		if m := re.FindStringSubmatch(desc.String()); m != nil {
			d[m[1]] = m[2]
		}
	}
	return nil
}
func (d descNames) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		d.Register(c)
	}
}
func (d descNames) Unregister(prometheus.Collector) bool { return true }

func TestMetricTableMatchesCode(t *testing.T) {
	doc, err := documentedMetrics(repo, readmeFile)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]descNames{"ingest": {}, "pusher": {}}
	obs.NewIngestMetrics(got["ingest"])
	push.NewMetrics(got["pusher"])
	pusher.NewMetrics(got["pusher"])
	if len(got["ingest"]) < 8 || len(got["pusher"]) < 10 {
		t.Fatalf("too few metrics seen through Describe: %v", got)
	}
	for from, names := range got {
		for name, labels := range names {
			d, ok := doc[name]
			if !ok {
				t.Errorf("the %s registers %s, which deploy/README.md does not list", from, name)
				continue
			}
			if d.status != "implemented" || d.from != from {
				t.Errorf("%s: listed as %s/%s, but the %s implements it", name, d.from, d.status, from)
			}
			if norm(d.labels) != norm(labels) {
				t.Errorf("%s: README labels %q, code %q", name, d.labels, labels)
			}
		}
	}
	for name, d := range doc {
		if d.status == "implemented" && got[d.from] != nil && !hasKey(got[d.from], name) {
			t.Errorf("deploy/README.md lists %s as implemented by the %s, which does not register it", name, d.from)
		}
	}
}

func hasKey(m descNames, k string) bool { _, ok := m[k]; return ok }

func norm(labels string) string {
	f := strings.FieldsFunc(labels, func(r rune) bool { return r == ',' || r == ' ' })
	sort.Strings(f)
	return strings.Join(f, ",")
}

func TestExampleConfigs(t *testing.T) {
	// The compose example, through the real loader and a real file path.
	if _, err := ingest.LoadConfig(filepath.Join("..", ingestExample), fakeEnv); err != nil {
		t.Errorf("%s: %v", ingestExample, err)
	}
	if err := pusherExampleCheck(repo); err != nil {
		t.Errorf("%s: %v", pusherExample, err)
	}
	// The Windows guide's config block.
	raw, err := fs.ReadFile(repo, "deploy/windows/README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(raw), -1)
	n := 0
	for _, b := range blocks {
		if !strings.Contains(b[1], "sources:") {
			continue
		}
		n++
		if _, err := checkIngestConfig([]byte(b[1])); err != nil {
			t.Errorf("deploy/windows/README.md ingest config: %v", err)
		}
	}
	if n == 0 {
		t.Error("deploy/windows/README.md has no ingest config block")
	}
}

// TestPusherConfigLoader loads the pusher examples (compose file, ConfigMap)
// with the pusher's own loader, through a real file path.
func TestPusherConfigLoader(t *testing.T) {
	if _, err := pusher.LoadConfig(filepath.Join("..", pusherExample), fakeEnv); err != nil {
		t.Errorf("%s: %v", pusherExample, err)
	}
	docs, err := k8sLoad(repo, k8sDir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range docs {
		if raw := str(d.doc, "data", "pusher.yaml"); raw != "" {
			n++
			if _, err := pusher.ParseConfig([]byte(raw), fakeEnv); err != nil {
				t.Errorf("ConfigMap %s: %v", d.name(), err)
			}
		}
	}
	if n == 0 {
		t.Error("no ConfigMap carries pusher.yaml")
	}
}

// ---------------------------------------------------------------- broken files

// brokenTree copies deploy/ and the names of cmd/ into memory.
func brokenTree(t *testing.T) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	for _, root := range []string{"deploy", "cmd", ".dockerignore"} {
		err := fs.WalkDir(repo, root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := fs.ReadFile(repo, p)
			if err != nil {
				return err
			}
			m[p] = &fstest.MapFile{Data: b, Mode: 0o644}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return m
}

func TestCheckersRejectBrokenFiles(t *testing.T) {
	deployment := func(name string) string { return "deploy/k8s/" + name }
	cases := []struct {
		name     string
		check    func(fs.FS) error
		file     string
		old, new string
		all      bool
		want     string
	}{
		// compose
		{"compose undefined secret", composeCheck, composeFile, "source: daou_client_secret", "source: daou_secret", false, `undefined secret "daou_secret"`},
		{"compose no healthcheck", composeCheck, composeFile, "    healthcheck:\n      test: [\"CMD-SHELL\", \"nc -z", "    x-hc:\n      test: [\"CMD-SHELL\", \"nc -z", false, "service ftp: no healthcheck"},
		{"compose literal password", composeCheck, composeFile, "      MIN_PORT: \"21000\"", "      FTP_PASSWORD: hunter2\n      MIN_PORT: \"21000\"", false, "FTP_PASSWORD holds a literal value"},
		{"compose password file outside secrets", composeCheck, composeFile, "GF_SECURITY_ADMIN_PASSWORD__FILE: /run/secrets/grafana_admin_password", "GF_SECURITY_ADMIN_PASSWORD__FILE: /etc/grafana/admin.txt", false, "GF_SECURITY_ADMIN_PASSWORD__FILE holds a literal value"},
		{"compose unknown dependency", composeCheck, composeFile, "      ftp:\n        condition: service_healthy", "      ftpd:\n        condition: service_healthy", false, "depends_on unknown service ftpd"},
		{"compose missing config file", composeCheck, composeFile, "file: ./config/pusher.yaml", "file: ./config/pusher-prod.yaml", false, "pusher-prod.yaml does not exist"},
		{"compose missing Dockerfile", composeCheck, composeFile, "dockerfile: deploy/docker/Dockerfile.ingest", "dockerfile: deploy/docker/Dockerfile.ingset", false, "does not exist under context"},
		{"compose undefined volume", composeCheck, composeFile, "      - ingest-state:/var/lib/attnd", "      - ingest-data:/var/lib/attnd", false, "volume ingest-data is not defined"},
		{"compose wait for restarting service", composeCheck, composeFile, "    restart: \"no\"", "    restart: always", false, "which restarts"},
		{"compose bad yaml", composeCheck, composeFile, "services:\n", "services:\n  - [\n", false, "yaml"},
		// Kubernetes
		{"k8s readiness on healthz", k8sCheck, deployment("ingest-deployment.yaml"), "path: /readyz", "path: /healthz", false, "readinessProbe path is \"/healthz\""},
		{"k8s no liveness probe", k8sCheck, deployment("pusher-deployment.yaml"), "livenessProbe:", "xLivenessProbe:", false, "no livenessProbe"},
		{"k8s probe on unknown port", k8sCheck, deployment("pusher-deployment.yaml"), "              path: /readyz\n              port: http", "              path: /readyz\n              port: metrics", false, "port \"metrics\" is not a container port"},
		{"k8s root allowed", k8sCheck, deployment("pusher-deployment.yaml"), "runAsNonRoot: true", "runAsNonRoot: false", true, "runAsNonRoot is not true"},
		{"k8s writable root fs", k8sCheck, deployment("ingest-deployment.yaml"), "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false", false, "readOnlyRootFilesystem is not true"},
		{"k8s no limits", k8sCheck, deployment("ingest-deployment.yaml"), "            limits:\n              cpu: \"1\"\n              memory: 512Mi\n", "", false, "resources.limits.cpu is not set"},
		{"k8s missing ConfigMap", k8sCheck, deployment("pusher-deployment.yaml"), "name: attnd-pusher-config", "name: attnd-pusher-cfg", true, `ConfigMap "attnd-pusher-cfg" does not exist`},
		{"k8s missing Secret", k8sCheck, deployment("ingest-deployment.yaml"), "name: attnd-ingest-secrets", "name: attnd-ingest-secret", false, `Secret "attnd-ingest-secret" does not exist`},
		{"k8s missing subPath key", k8sCheck, deployment("ingest-deployment.yaml"), "subPath: ingest.yaml", "subPath: config.yaml", false, "has no key config.yaml"},
		{"k8s kustomization lists missing file", k8sCheck, deployment("kustomization.yaml"), "  - services.yaml", "  - service.yaml", false, "resource service.yaml does not exist"},
		{"k8s kustomization forgets a file", k8sCheck, deployment("kustomization.yaml"), "  - pusher-hpa.yaml\n", "", false, "does not list pusher-hpa.yaml"},
		{"k8s kustomization applies secrets", k8sCheck, deployment("kustomization.yaml"), "  - services.yaml", "  - services.yaml\n  - secrets.example.yaml", false, "would overwrite real secrets"},
		{"k8s HPA above partitions", k8sCheck, deployment("pusher-hpa.yaml"), "maxReplicas: 6", "maxReplicas: 12", false, "maxReplicas 12 > 6 partitions"},
		{"k8s pusher above partitions", k8sCheck, deployment("pusher-deployment.yaml"), "replicas: 2", "replicas: 8", false, "replicas 8 > 6 partitions"},
		{"k8s ingest rolling update", k8sCheck, deployment("ingest-deployment.yaml"), "type: Recreate", "type: RollingUpdate", false, "strategy Recreate"},
		{"k8s real secret", k8sCheck, deployment("secrets.example.yaml"), "FTP_PASSWORD: CHANGE_ME", "FTP_PASSWORD: hunter2", false, "not a CHANGE_ME placeholder"},
		{"k8s ingest config does not load", k8sCheck, deployment("ingest-configmap.yaml"), "vendor: secom", "vendor: samsung", false, "data.ingest.yaml does not load"},
		{"k8s document without kind", k8sCheck, deployment("namespace.yaml"), "kind: Namespace", "knd: Namespace", false, "apiVersion, kind and metadata.name are required"},
		{"k8s PDB on the single ingest", k8sCheck, deployment("pusher-pdb.yaml"), "      app.kubernetes.io/name: attnd-pusher", "      app.kubernetes.io/name: attnd-ingest", false, "node drains would block"},
		{"k8s service selects nothing", k8sCheck, deployment("services.yaml"), "  selector:\n    app.kubernetes.io/name: attnd-pusher", "  selector:\n    app.kubernetes.io/name: attnd-pushr", false, "selector matches no Deployment"},
		// Dockerfiles
		{"docker unknown stage", dockerCheck(dockerfiles[0]), dockerfiles[0], "COPY --from=build /out/ingest", "COPY --from=builder /out/ingest", false, "COPY --from=builder: no earlier stage"},
		{"docker root user", dockerCheck(dockerfiles[0]), dockerfiles[0], "USER 65532:65532", "USER root", false, "runs as root"},
		{"docker no user", dockerCheck(dockerfiles[1]), dockerfiles[1], "USER 65532:65532\n", "", false, "sets no USER"},
		{"docker cgo on", dockerCheck(dockerfiles[1]), dockerfiles[1], "ENV CGO_ENABLED=0 GOOS=linux", "ENV GOOS=linux", false, "without CGO_ENABLED=0"},
		{"docker entrypoint not copied", dockerCheck(dockerfiles[0]), dockerfiles[0], "COPY --from=build /out/secretenv /usr/local/bin/secretenv\n", "", false, "ENTRYPOINT runs /usr/local/bin/secretenv, which the final stage does not COPY"},
		{"docker shell-form entrypoint", dockerCheck(dockerfiles[1]), dockerfiles[1], `ENTRYPOINT ["/usr/local/bin/secretenv", "--", "/usr/local/bin/pusher"]`, "ENTRYPOINT /usr/local/bin/pusher", false, "not in exec form"},
		{"docker build of missing package", dockerCheck(dockerfiles[0]), dockerfiles[0], "./cmd/ingest", "./cmd/ingester", false, "no such package directory"},
		{"docker typo instruction", dockerCheck(dockerfiles[0]), dockerfiles[0], "WORKDIR /src", "WORKDIRR /src", false, "unknown instruction WORKDIRR"},
		// systemd
		{"unit no Install", unitCheck(units[0]), units[0], "[Install]\nWantedBy=multi-user.target", "", false, "no [Install] section"},
		{"unit no ExecStart", unitCheck(units[0]), units[0], "ExecStart=/usr/local/bin/ingest", "#ExecStart=/usr/local/bin/ingest", false, "no ExecStart"},
		{"unit restart always", unitCheck(units[1]), units[1], "Restart=on-failure", "Restart=always", false, `Restart="always"`},
		{"unit runs as root", unitCheck(units[1]), units[1], "DynamicUser=yes", "DynamicUser=no", false, "runs as root"},
		{"unit not strict", unitCheck(units[0]), units[0], "ProtectSystem=strict", "ProtectSystem=full", false, "ProtectSystem"},
		{"unit key outside section", unitCheck(units[0]), units[0], "[Unit]\n", "Foo=bar\n[Unit]\n", false, "outside a section"},
		{"unit SIGSYS on filtered call", unitCheck(units[1]), units[1], "SystemCallErrorNumber=EPERM\n", "", false, "SystemCallErrorNumber"},
		{"unit ExecStart in Unit", unitCheck(units[0]), units[0], "After=network-online.target\n", "After=network-online.target\nExecStart=/bin/true\n", false, "ExecStart belongs in [Service]"},
		// alerts
		{"alert bad severity", alertsCheck, alertsFile, "          severity: page", "          severity: critical", false, `labels.severity "critical"`},
		{"alert bad for", alertsCheck, alertsFile, "for: 5m", "for: five minutes", false, "is not a duration"},
		{"alert unbalanced expr", alertsCheck, alertsFile, `or absent(up{job="attnd-ingest"})`, `or absent(up{job="attnd-ingest"}`, false, "unclosed"},
		{"alert bad range", alertsCheck, alertsFile, "attnd_ingest_source_errors_total[10m]", "attnd_ingest_source_errors_total[10 minutes]", false, "is not a duration"},
		{"alert undocumented metric", alertsCheck, alertsFile, "attnd_consumer_lag) > 100000", "attnd_consumer_lag_messages) > 100000", false, "uses attnd_consumer_lag_messages, which deploy/README.md does not list"},
		{"alert unknown field", alertsCheck, alertsFile, "    rules:\n      - alert: AttndIngestDown", "    rules:\n      - alert: AttndIngestDown\n        severity: page", false, "field severity not found"},
		{"alert no summary", alertsCheck, alertsFile, `summary: "Daou calls keep failing (5xx or timeouts)"`, `description: "x"`, false, "no annotations.summary"},
		{"README drops a metric", alertsCheck, readmeFile, "| `attnd_push_blocked` |", "| attnd_push_blocked |", false, "uses attnd_push_blocked"},
		{"README counter without _total", alertsCheck, readmeFile, "| `attnd_ingest_bytes_total` | counter", "| `attnd_ingest_bytes` | counter", false, "does not end in _total"},
		// dashboard
		{"dashboard empty expr", dashboardCheck, dashboardFile, `"expr": "max(attnd_push_blocked)"`, `"expr": ""`, false, "has no expr"},
		{"dashboard undefined variable", dashboardCheck, dashboardFile, `source=~\"$source\"`, `source=~\"$src\"`, false, "uses variable $src"},
		{"dashboard undocumented metric", dashboardCheck, dashboardFile, "attnd_pusher_batch_seconds_bucket", "attnd_pusher_batch_secs_bucket", false, "uses attnd_pusher_batch_secs_bucket"},
		{"dashboard repeated id", dashboardCheck, dashboardFile, `"id": 3,`, `"id": 2,`, false, "id missing or repeated"},
		{"dashboard bad json", dashboardCheck, dashboardFile, `"panels": [`, `"panels": [[`, false, dashboardFile},
		// example configs
		{"ingest example password in URL", ingestExampleCheck, ingestExample, "url: ftp://vendor@ftp:21/secom", "url: ftp://vendor:pw@ftp:21/secom", false, "a password in the URL is not allowed"},
		{"ingest example unknown key", ingestExampleCheck, ingestExample, "retry: 30s", "retries: 30s", false, "field retries not found"},
		{"pusher example clickhouse password", pusherExampleCheck, pusherExample, "password_env: CLICKHOUSE_PASSWORD", "password: hunter2", false, "clickhouse.password is written in the file"},
		{"pusher example clickhouse typo", pusherExampleCheck, pusherExample, "dial_timeout: 10s", "dial_timout: 10s", false, "field dial_timout not found"},
		{"pusher example daou secret", pusherExampleCheck, pusherExample, "client_secret_env: DAOU_CLIENT_SECRET", "client_secret: hunter2", false, "daou.client_secret is written in the file"},
		{"pusher example bad match rule", pusherExampleCheck, pusherExample, "kind: pad_zeros", "kind: pad_zeroes", false, "pusher config: match"},
		{"pusher example match typo", pusherExampleCheck, pusherExample, "  card_key_env: ATTND_CARD_KEY", "  card_key: ATTND_CARD_KEY", false, "field card_key not found"},
		{"pusher example default database", pusherExampleCheck, pusherExample, "database: attendance", "database: default", false, "clickhouse.database"},
	}
	base := brokenTree(t)
	// The unchanged tree passes every checker: a failure below is the mutation's.
	for _, c := range cases {
		if err := c.check(base); err != nil {
			t.Fatalf("%s: the unchanged tree fails: %v", c.name, err)
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tree := fstest.MapFS{}
			for k, v := range base {
				tree[k] = v
			}
			orig := string(base[c.file].Data)
			if !strings.Contains(orig, c.old) {
				t.Fatalf("%s does not contain %q: update the case", c.file, c.old)
			}
			n := 1
			if c.all {
				n = -1
			}
			tree[c.file] = &fstest.MapFile{Data: []byte(strings.Replace(orig, c.old, c.new, n)), Mode: 0o644}
			err := c.check(tree)
			if err == nil {
				t.Fatalf("the broken %s passed", c.file)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error does not mention %q:\n%v", c.want, err)
			}
		})
	}
}

// TestMetricNamesInCodeAreDocumented scans the Go sources for metric name
// literals: a metric the code exports but deploy/README.md does not list
// would be invisible to the alerts and the dashboard (or a typo of a listed
// one). The pusher's metrics land here when they are written.
func TestMetricNamesInCodeAreDocumented(t *testing.T) {
	doc, err := documentedMetrics(repo, readmeFile)
	if err != nil {
		t.Fatal(err)
	}
	lit := regexp.MustCompile(`"(attnd_[a-z0-9_]+)"`)
	found := map[string]string{}
	for _, root := range []string{"internal", "cmd"} {
		err := fs.WalkDir(repo, root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return err
			}
			raw, err := fs.ReadFile(repo, p)
			if err != nil {
				return err
			}
			for _, m := range lit.FindAllStringSubmatch(string(raw), -1) {
				found[m[1]] = p
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(found) == 0 {
		t.Fatal("no attnd_ metric name in the Go sources: the scan is broken")
	}
	for _, name := range sortedKeys(found) {
		d, ok := doc[name]
		switch {
		case !ok:
			t.Errorf("%s defines metric %s, which deploy/README.md does not list (alerts and dashboard use the listed names)", found[name], name)
		case d.status != "implemented":
			t.Logf("%s is now in %s: mark it implemented in deploy/README.md", name, found[name])
		}
	}
}
