package deploy_test

// The checkers: each reads its files from fsys (the repository root in the
// real tests, an in-memory tree in the table of broken files) and returns
// every problem it finds, joined; nil means the files pass.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/attendance-pipeline/attnd/internal/ingest"
	"github.com/attendance-pipeline/attnd/internal/pusher"
	"gopkg.in/yaml.v3"
)

// ---------------------------------------------------------------- helpers

// yamlDocs decodes every document of a (multi-document) YAML file.
func yamlDocs(fsys fs.FS, name string) ([]map[string]any, error) {
	raw, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	var docs []map[string]any
	for i := 0; ; i++ {
		var d map[string]any
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", name, i+1, err)
		}
		if d != nil {
			docs = append(docs, d)
		}
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("%s: no YAML document", name)
	}
	return docs, nil
}

// dig walks maps by key; ok is false when a step is missing or not a map.
func dig(v any, keys ...string) (any, bool) {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

func str(v any, keys ...string) string {
	x, _ := dig(v, keys...)
	switch s := x.(type) {
	case string:
		return s
	case int, bool, float64:
		return fmt.Sprint(s)
	}
	return ""
}

func mapOf(v any, keys ...string) map[string]any {
	x, _ := dig(v, keys...)
	m, _ := x.(map[string]any)
	return m
}

func listOf(v any, keys ...string) []any {
	x, _ := dig(v, keys...)
	l, _ := x.([]any)
	return l
}

func intOf(v any, keys ...string) (int, bool) {
	x, ok := dig(v, keys...)
	if !ok {
		return 0, false
	}
	switch n := x.(type) {
	case int:
		return n, true
	case string:
		i, err := strconv.Atoi(n)
		return i, err == nil
	}
	return 0, false
}

func exists(fsys fs.FS, name string) bool {
	_, err := fs.Stat(fsys, path.Clean(name))
	return err == nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// fakeEnv answers every secret lookup, as a deployment with all secrets set.
func fakeEnv(name string) (string, bool) {
	if name == "KAFKA_BROKERS" || strings.HasSuffix(name, "_URL") {
		return "", false // overrides of config values, not secrets
	}
	return "fake-" + strings.ToLower(name), true
}

// ---------------------------------------------------------------- compose

// secretish names environment variables that must never hold a literal.
var secretish = regexp.MustCompile(`(?i)(PASSWORD|PASSWD|SECRET|TOKEN|CREDENTIAL|PRIVATE|(^|_)KEY$|API_?KEY)`)

var interpolation = regexp.MustCompile(`^\$\{[A-Za-z_][A-Za-z0-9_]*(:?[-?][^}]*)?\}$`)

// checkCompose checks a compose file (name is relative to fsys's root).
func checkCompose(fsys fs.FS, name string) error {
	docs, err := yamlDocs(fsys, name)
	if err != nil {
		return err
	}
	if len(docs) != 1 {
		return fmt.Errorf("%s: %d documents, want 1", name, len(docs))
	}
	doc := docs[0]
	dir := path.Dir(name)
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(name+": "+format, a...)) }

	services := mapOf(doc, "services")
	if len(services) == 0 {
		bad("no services")
	}
	// Top-level configs and secrets: defined by a file that exists (or, for
	// secrets that must not be committed, whose .example exists).
	defined := map[string]map[string]any{}
	for _, kind := range []string{"configs", "secrets"} {
		defined[kind] = mapOf(doc, kind)
		for _, n := range sortedKeys(defined[kind]) {
			file := str(defined[kind][n], "file")
			switch {
			case file == "":
				if str(defined[kind][n], "environment") == "" && str(defined[kind][n], "external") != "true" {
					bad("%s.%s: no file, environment or external", kind, n)
				}
			case kind == "configs" && !exists(fsys, path.Join(dir, file)):
				bad("%s.%s: file %s does not exist", kind, n, file)
			case kind == "secrets" && !exists(fsys, path.Join(dir, file)) && !exists(fsys, path.Join(dir, file)+".example"):
				bad("%s.%s: neither %s nor %s.example exists", kind, n, file, file)
			}
		}
	}
	volumes := mapOf(doc, "volumes")
	for _, sn := range sortedKeys(services) {
		svc := services[sn]
		image, build := str(svc, "image"), mapOf(svc, "build")
		if image == "" && build == nil {
			bad("service %s: neither image nor build", sn)
		}
		if build != nil {
			ctx := str(build, "context")
			if ctx == "" {
				ctx = "."
			}
			df := str(build, "dockerfile")
			if df == "" {
				df = "Dockerfile"
			}
			if !exists(fsys, path.Join(dir, ctx, df)) {
				bad("service %s: build.dockerfile %s does not exist under context %s", sn, df, ctx)
			}
		}
		if image != "" && build == nil && !strings.Contains(path.Base(image), ":") && !strings.Contains(image, "@") {
			bad("service %s: image %s has no tag", sn, image)
		}
		// The service might be built by another service with the same image.
		if image != "" && build == nil && strings.HasPrefix(image, "attnd/") {
			found := false
			for _, other := range services {
				if str(other, "image") == image && mapOf(other, "build") != nil {
					found = true
				}
			}
			if !found {
				bad("service %s: image %s is built by no service", sn, image)
			}
		}
		for _, kind := range []string{"configs", "secrets"} {
			for i, ref := range listOf(svc, kind) {
				src := ""
				switch r := ref.(type) {
				case string:
					src = r
				case map[string]any:
					src = str(r, "source")
				}
				if _, ok := defined[kind][src]; !ok || src == "" {
					bad("service %s: %s[%d] refers to undefined %s %q", sn, kind, i, strings.TrimSuffix(kind, "s"), src)
				}
			}
		}
		oneShot := str(svc, "restart") == "no"
		hc := mapOf(svc, "healthcheck")
		switch {
		case oneShot:
		case hc == nil:
			bad("service %s: no healthcheck", sn)
		case str(hc, "disable") == "true":
			bad("service %s: healthcheck disabled on a long-running service", sn)
		case len(listOf(hc, "test")) == 0 && str(hc, "test") == "":
			bad("service %s: healthcheck without test", sn)
		}
		deps := mapOf(svc, "depends_on")
		if deps == nil {
			for _, d := range listOf(svc, "depends_on") {
				if s, ok := d.(string); ok {
					if _, ok := services[s]; !ok {
						bad("service %s: depends_on unknown service %s", sn, s)
					}
				}
			}
		}
		for _, dn := range sortedKeys(deps) {
			target, ok := services[dn]
			if !ok {
				bad("service %s: depends_on unknown service %s", sn, dn)
				continue
			}
			switch cond := str(deps[dn], "condition"); cond {
			case "service_started":
			case "service_healthy":
				if mapOf(target, "healthcheck") == nil || str(target, "healthcheck", "disable") == "true" {
					bad("service %s: waits for %s to be healthy, which has no healthcheck", sn, dn)
				}
			case "service_completed_successfully":
				if str(target, "restart") != "no" {
					bad("service %s: waits for %s to complete, which restarts", sn, dn)
				}
			default:
				bad("service %s: depends_on.%s.condition %q is not service_started, service_healthy or service_completed_successfully", sn, dn, cond)
			}
		}
		env := map[string]string{}
		if m := mapOf(svc, "environment"); m != nil {
			for k, v := range m {
				env[k] = fmt.Sprint(v)
				if v == nil {
					env[k] = ""
				}
			}
		}
		for _, kv := range listOf(svc, "environment") {
			k, v, _ := strings.Cut(fmt.Sprint(kv), "=")
			env[k] = v
		}
		for _, k := range sortedKeys(env) {
			if strings.HasSuffix(k, "_FILE") && strings.HasPrefix(env[k], "/run/secrets/") {
				continue // the image reads the secret from the file (Grafana's __FILE)
			}
			if v := env[k]; secretish.MatchString(k) && v != "" && !interpolation.MatchString(v) {
				bad("service %s: environment %s holds a literal value; use secrets:", sn, k)
			}
		}
		for _, v := range listOf(svc, "volumes") {
			s, ok := v.(string)
			if !ok {
				s = str(v, "source")
			}
			src, _, _ := strings.Cut(s, ":")
			if src != "" && !strings.HasPrefix(src, ".") && !strings.HasPrefix(src, "/") && !strings.HasPrefix(src, "~") {
				if _, ok := volumes[src]; !ok {
					bad("service %s: volume %s is not defined", sn, src)
				}
			}
		}
	}
	return errors.Join(errs...)
}

// ---------------------------------------------------------------- Kubernetes

type k8sDoc struct {
	file string
	doc  map[string]any
}

func (d k8sDoc) kind() string { return str(d.doc, "kind") }
func (d k8sDoc) name() string { return str(d.doc, "metadata", "name") }

// k8sLoad reads every .yaml of dir (all documents).
func k8sLoad(fsys fs.FS, dir string) ([]k8sDoc, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var out []k8sDoc
	var errs []error
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}
		docs, err := yamlDocs(fsys, path.Join(dir, e.Name()))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, d := range docs {
			out = append(out, k8sDoc{file: e.Name(), doc: d})
		}
	}
	return out, errors.Join(errs...)
}

const secretsExample = "secrets.example.yaml"

// checkK8s checks the manifests of dir and how they refer to each other.
// partitions is the punches topic's partition count (pusher scale limit).
func checkK8s(fsys fs.FS, dir string) error {
	docs, err := k8sLoad(fsys, dir)
	if err != nil {
		return err
	}
	var errs []error
	bad := func(d k8sDoc, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s %s: %s", path.Join(dir, d.file), d.kind(), d.name(), fmt.Sprintf(format, a...)))
	}
	byKind := map[string]map[string]k8sDoc{}
	var kust *k8sDoc
	for i, d := range docs {
		if d.kind() == "Kustomization" {
			kust = &docs[i]
			continue
		}
		if str(d.doc, "apiVersion") == "" || d.kind() == "" || d.name() == "" {
			bad(d, "apiVersion, kind and metadata.name are required")
			continue
		}
		if byKind[d.kind()] == nil {
			byKind[d.kind()] = map[string]k8sDoc{}
		}
		if _, dup := byKind[d.kind()][d.name()]; dup {
			bad(d, "defined twice")
		}
		byKind[d.kind()][d.name()] = d
		if d.kind() != "Namespace" && str(d.doc, "metadata", "namespace") == "" {
			bad(d, "metadata.namespace is not set")
		}
	}
	has := func(kind, name string) bool { _, ok := byKind[kind][name]; return ok }

	partitions := 0
	for _, cm := range byKind["ConfigMap"] {
		raw := str(cm.doc, "data", "ingest.yaml")
		if raw == "" {
			continue
		}
		cfg, err := ingest.ParseConfig([]byte(raw), fakeEnv)
		if err != nil {
			bad(cm, "data.ingest.yaml does not load: %v", err)
			continue
		}
		partitions = cfg.Kafka.Partitions
	}

	for _, s := range byKind["Secret"] {
		for _, field := range []string{"stringData", "data"} {
			for k, v := range mapOf(s.doc, field) {
				if !strings.Contains(fmt.Sprint(v), "CHANGE_ME") {
					bad(s, "%s.%s is not a CHANGE_ME placeholder: real secrets never go into git", field, k)
				}
			}
		}
		if s.file != secretsExample {
			bad(s, "Secrets belong in %s only (kept out of the kustomization)", secretsExample)
		}
	}

	for _, d := range byKind["Deployment"] {
		spec := mapOf(d.doc, "spec", "template", "spec")
		if spec == nil {
			bad(d, "no spec.template.spec")
			continue
		}
		sel := mapOf(d.doc, "spec", "selector", "matchLabels")
		labels := mapOf(d.doc, "spec", "template", "metadata", "labels")
		if len(sel) == 0 {
			bad(d, "spec.selector.matchLabels is empty")
		}
		for k, v := range sel {
			if fmt.Sprint(labels[k]) != fmt.Sprint(v) {
				bad(d, "selector %s=%v does not match the pod labels", k, v)
			}
		}
		podNonRoot := str(spec, "securityContext", "runAsNonRoot") == "true"
		cms := map[string]string{} // volume name -> ConfigMap name
		for _, v := range listOf(spec, "volumes") {
			vn := str(v, "name")
			switch {
			case mapOf(v, "configMap") != nil:
				cms[vn] = str(v, "configMap", "name")
				if !has("ConfigMap", cms[vn]) {
					bad(d, "volume %s: ConfigMap %q does not exist", vn, cms[vn])
				}
			case mapOf(v, "secret") != nil:
				if n := str(v, "secret", "secretName"); !has("Secret", n) {
					bad(d, "volume %s: Secret %q does not exist", vn, n)
				}
			case mapOf(v, "persistentVolumeClaim") != nil:
				if n := str(v, "persistentVolumeClaim", "claimName"); !has("PersistentVolumeClaim", n) {
					bad(d, "volume %s: PersistentVolumeClaim %q does not exist", vn, n)
				}
			}
		}
		vols := map[string]bool{}
		for _, v := range listOf(spec, "volumes") {
			vols[str(v, "name")] = true
		}
		check := func(c any, init bool) {
			cn := str(c, "name")
			if str(c, "image") == "" {
				bad(d, "container %s: no image", cn)
			}
			for _, q := range []string{"requests", "limits"} {
				for _, r := range []string{"cpu", "memory"} {
					if str(c, "resources", q, r) == "" {
						bad(d, "container %s: resources.%s.%s is not set", cn, q, r)
					}
				}
			}
			if !podNonRoot && str(c, "securityContext", "runAsNonRoot") != "true" {
				bad(d, "container %s: runAsNonRoot is not true (pod or container)", cn)
			}
			if str(c, "securityContext", "readOnlyRootFilesystem") != "true" {
				bad(d, "container %s: readOnlyRootFilesystem is not true", cn)
			}
			if str(c, "securityContext", "allowPrivilegeEscalation") != "false" {
				bad(d, "container %s: allowPrivilegeEscalation is not false", cn)
			}
			for _, ef := range listOf(c, "envFrom") {
				if n := str(ef, "secretRef", "name"); n != "" && !has("Secret", n) {
					bad(d, "container %s: envFrom Secret %q does not exist", cn, n)
				}
				if n := str(ef, "configMapRef", "name"); n != "" && !has("ConfigMap", n) {
					bad(d, "container %s: envFrom ConfigMap %q does not exist", cn, n)
				}
			}
			for _, e := range listOf(c, "env") {
				if n := str(e, "valueFrom", "secretKeyRef", "name"); n != "" && !has("Secret", n) {
					bad(d, "container %s: env %s: Secret %q does not exist", cn, str(e, "name"), n)
				}
				if n := str(e, "valueFrom", "configMapKeyRef", "name"); n != "" && !has("ConfigMap", n) {
					bad(d, "container %s: env %s: ConfigMap %q does not exist", cn, str(e, "name"), n)
				}
			}
			for _, m := range listOf(c, "volumeMounts") {
				vn := str(m, "name")
				if !vols[vn] {
					bad(d, "container %s: mounts undefined volume %s", cn, vn)
				}
				if sp := str(m, "subPath"); sp != "" && cms[vn] != "" {
					if _, ok := dig(byKind["ConfigMap"][cms[vn]].doc, "data", sp); !ok {
						bad(d, "container %s: ConfigMap %s has no key %s (subPath)", cn, cms[vn], sp)
					}
				}
			}
			if init {
				return
			}
			ports := map[string]string{}
			for _, p := range listOf(c, "ports") {
				ports[str(p, "name")] = str(p, "containerPort")
			}
			for probe, want := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz"} {
				p := mapOf(c, probe)
				if p == nil {
					bad(d, "container %s: no %s", cn, probe)
					continue
				}
				if got := str(p, "httpGet", "path"); got != want {
					bad(d, "container %s: %s path is %q, want %s", cn, probe, got, want)
				}
				port := str(p, "httpGet", "port")
				if _, named := ports[port]; !named && !containsValue(ports, port) {
					bad(d, "container %s: %s port %q is not a container port", cn, probe, port)
				}
			}
		}
		containers := listOf(spec, "containers")
		if len(containers) == 0 {
			bad(d, "no containers")
		}
		for _, c := range containers {
			check(c, false)
		}
		for _, c := range listOf(spec, "initContainers") {
			check(c, true)
		}
		replicas, _ := intOf(d.doc, "spec", "replicas")
		usesPVC := false
		for _, v := range listOf(spec, "volumes") {
			if mapOf(v, "persistentVolumeClaim") != nil {
				usesPVC = true
			}
		}
		if usesPVC && (replicas != 1 || str(d.doc, "spec", "strategy", "type") != "Recreate") {
			bad(d, "a Deployment with a ReadWriteOnce state volume needs replicas: 1 and strategy Recreate")
		}
		if strings.Contains(d.name(), "pusher") && partitions > 0 && replicas > partitions {
			bad(d, "replicas %d > %d partitions of the punches topic", replicas, partitions)
		}
	}

	for _, h := range byKind["HorizontalPodAutoscaler"] {
		target := str(h.doc, "spec", "scaleTargetRef", "name")
		if str(h.doc, "spec", "scaleTargetRef", "kind") != "Deployment" || !has("Deployment", target) {
			bad(h, "scaleTargetRef %s is not a Deployment here", target)
		}
		maxR, _ := intOf(h.doc, "spec", "maxReplicas")
		if partitions > 0 && maxR > partitions {
			bad(h, "maxReplicas %d > %d partitions of the punches topic", maxR, partitions)
		}
		if strings.Contains(target, "ingest") {
			bad(h, "the ingest must not be autoscaled (one ledger, one writer)")
		}
	}

	for _, p := range byKind["PodDisruptionBudget"] {
		sel := mapOf(p.doc, "spec", "selector", "matchLabels")
		matched := false
		for _, d := range byKind["Deployment"] {
			labels := mapOf(d.doc, "spec", "template", "metadata", "labels")
			ok := len(sel) > 0
			for k, v := range sel {
				if fmt.Sprint(labels[k]) != fmt.Sprint(v) {
					ok = false
				}
			}
			if !ok {
				continue
			}
			matched = true
			if r, _ := intOf(d.doc, "spec", "replicas"); r <= 1 {
				bad(p, "covers Deployment %s of %d replica: node drains would block", d.name(), r)
			}
		}
		if !matched {
			bad(p, "selector matches no Deployment")
		}
	}

	for _, s := range byKind["Service"] {
		sel := mapOf(s.doc, "spec", "selector")
		matched := false
		for _, d := range byKind["Deployment"] {
			labels := mapOf(d.doc, "spec", "template", "metadata", "labels")
			ok := len(sel) > 0
			for k, v := range sel {
				if fmt.Sprint(labels[k]) != fmt.Sprint(v) {
					ok = false
				}
			}
			if !ok {
				continue
			}
			matched = true
			ports := map[string]string{}
			for _, c := range listOf(d.doc, "spec", "template", "spec", "containers") {
				for _, p := range listOf(c, "ports") {
					ports[str(p, "name")] = str(p, "containerPort")
				}
			}
			for _, p := range listOf(s.doc, "spec", "ports") {
				tp := str(p, "targetPort")
				if _, named := ports[tp]; !named && !containsValue(ports, tp) {
					bad(s, "targetPort %s is not a port of Deployment %s", tp, d.name())
				}
			}
		}
		if !matched {
			bad(s, "selector matches no Deployment")
		}
	}

	// The kustomization lists existing files, and every manifest but the
	// secret example.
	if kust == nil {
		errs = append(errs, fmt.Errorf("%s: no kustomization.yaml", dir))
	} else {
		listed := map[string]bool{}
		for _, r := range listOf(kust.doc, "resources") {
			f := fmt.Sprint(r)
			listed[f] = true
			if !exists(fsys, path.Join(dir, f)) {
				bad(*kust, "resource %s does not exist", f)
			}
			if f == secretsExample {
				bad(*kust, "lists %s: apply -k would overwrite real secrets with placeholders", f)
			}
		}
		seen := map[string]bool{}
		for _, d := range docs {
			if d.file == "kustomization.yaml" || d.file == secretsExample || seen[d.file] {
				continue
			}
			seen[d.file] = true
			if !listed[d.file] {
				bad(*kust, "does not list %s", d.file)
			}
		}
	}
	return errors.Join(errs...)
}

func containsValue(m map[string]string, v string) bool {
	for _, x := range m {
		if x == v && v != "" {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------- Dockerfiles

type dockerInstr struct {
	line int
	cmd  string // upper case
	args string
}

// dockerParse joins continuation lines and drops comments.
func dockerParse(text string) []dockerInstr {
	var out []dockerInstr
	var cur strings.Builder
	start := 0
	sc := bufio.NewScanner(strings.NewReader(text))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if cur.Len() > 0 && strings.HasPrefix(line, "#") {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if strings.HasSuffix(line, "\\") {
			cur.WriteString(strings.TrimSuffix(line, "\\") + " ")
			continue
		}
		cur.WriteString(line)
		full := cur.String()
		cur.Reset()
		cmd, args, _ := strings.Cut(full, " ")
		out = append(out, dockerInstr{line: start, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)})
	}
	if cur.Len() > 0 {
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, dockerInstr{line: start, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)})
	}
	return out
}

var knownDockerInstr = map[string]bool{"FROM": true, "RUN": true, "CMD": true, "LABEL": true, "EXPOSE": true, "ENV": true, "ADD": true, "COPY": true, "ENTRYPOINT": true, "VOLUME": true, "USER": true, "WORKDIR": true, "ARG": true, "ONBUILD": true, "STOPSIGNAL": true, "HEALTHCHECK": true, "SHELL": true}

var goBuildPkg = regexp.MustCompile(`go build [^&;]*?(\./[A-Za-z0-9_/.-]+)`)

// checkDockerfile checks stages, the final user, static builds and the
// exec-form binaries of the final stage.
func checkDockerfile(fsys fs.FS, name string) error {
	raw, err := fs.ReadFile(fsys, name)
	if err != nil {
		return err
	}
	var errs []error
	bad := func(line int, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s:%d: %s", name, line, fmt.Sprintf(format, a...)))
	}
	type stage struct {
		name   string
		cgoOff bool
		user   string
		copied map[string]bool
		from   int
	}
	var stages []*stage
	stageNames := map[string]bool{}
	instrs := dockerParse(string(raw))
	for _, in := range instrs {
		if !knownDockerInstr[in.cmd] {
			bad(in.line, "unknown instruction %s", in.cmd)
			continue
		}
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			for len(f) > 0 && strings.HasPrefix(f[0], "--") {
				f = f[1:]
			}
			if len(f) == 0 {
				bad(in.line, "FROM without image")
				continue
			}
			st := &stage{copied: map[string]bool{}, from: in.line}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.name = strings.ToLower(f[2])
				stageNames[st.name] = true
			} else if len(f) != 1 {
				bad(in.line, "FROM %q is not IMAGE [AS NAME]", in.args)
			}
			stages = append(stages, st)
			continue
		}
		if len(stages) == 0 {
			if in.cmd != "ARG" {
				bad(in.line, "%s before the first FROM", in.cmd)
			}
			continue
		}
		st := stages[len(stages)-1]
		switch in.cmd {
		case "ENV":
			if regexp.MustCompile(`(^|\s)CGO_ENABLED=0(\s|$)`).MatchString(in.args) {
				st.cgoOff = true
			}
		case "RUN":
			for _, m := range goBuildPkg.FindAllStringSubmatch(in.args, -1) {
				if !st.cgoOff && !strings.Contains(in.args, "CGO_ENABLED=0") {
					bad(in.line, "go build without CGO_ENABLED=0: the binary would not be static")
				}
				pkg := strings.TrimPrefix(m[1], "./")
				if !exists(fsys, pkg) {
					bad(in.line, "go build of %s: no such package directory", m[1])
				}
			}
		case "COPY", "ADD":
			f := strings.Fields(in.args)
			var srcs []string
			for _, a := range f {
				if v, ok := strings.CutPrefix(a, "--from="); ok {
					if !stageNames[strings.ToLower(v)] {
						if i, err := strconv.Atoi(v); err != nil || i >= len(stages)-1 {
							bad(in.line, "COPY --from=%s: no earlier stage of that name", v)
						}
					}
					if strings.ToLower(v) == st.name {
						bad(in.line, "COPY --from its own stage")
					}
					continue
				}
				if !strings.HasPrefix(a, "--") {
					srcs = append(srcs, a)
				}
			}
			if len(srcs) >= 2 {
				st.copied[srcs[len(srcs)-1]] = true
			}
		case "USER":
			st.user = in.args
		}
	}
	if len(stages) < 2 {
		bad(1, "not multi-stage (%d stage)", len(stages))
	}
	if len(stages) == 0 {
		return errors.Join(errs...)
	}
	final := stages[len(stages)-1]
	user, _, _ := strings.Cut(final.user, ":")
	switch user {
	case "":
		bad(final.from, "the final stage sets no USER (it would run as root)")
	case "root", "0":
		bad(final.from, "the final stage runs as root")
	}
	// ENTRYPOINT/HEALTHCHECK exec-form binaries must be copied into the final stage.
	inFinal := false
	for _, in := range instrs {
		if in.cmd == "FROM" {
			inFinal = in.line == final.from
			continue
		}
		if !inFinal {
			continue
		}
		args := in.args
		switch in.cmd {
		case "HEALTHCHECK":
			_, after, ok := strings.Cut(args, "CMD ")
			if !ok {
				continue
			}
			args = after
		case "ENTRYPOINT":
		default:
			continue
		}
		var argv []string
		if err := json.Unmarshal([]byte(strings.TrimSpace(args)), &argv); err != nil || len(argv) == 0 {
			bad(in.line, "%s is not in exec form (the final image has no shell)", in.cmd)
			continue
		}
		if !final.copied[argv[0]] {
			bad(in.line, "%s runs %s, which the final stage does not COPY", in.cmd, argv[0])
		}
	}
	return errors.Join(errs...)
}

// ---------------------------------------------------------------- systemd

type unitFile map[string]map[string][]string

// parseUnit reads a systemd unit as INI: [Section], Key=Value, comments with
// # or ;, and backslash continuations.
func parseUnit(text string) (unitFile, error) {
	u := unitFile{}
	section := ""
	var errs []error
	var cont strings.Builder
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if cont.Len() == 0 && (line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";")) {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			cont.WriteString(strings.TrimSuffix(line, "\\") + " ")
			continue
		}
		if cont.Len() > 0 {
			line = cont.String() + line
			cont.Reset()
		}
		if strings.HasPrefix(line, "[") {
			if !strings.HasSuffix(line, "]") {
				errs = append(errs, fmt.Errorf("line %d: unterminated section header", i+1))
				continue
			}
			section = line[1 : len(line)-1]
			if _, dup := u[section]; dup {
				errs = append(errs, fmt.Errorf("line %d: section [%s] repeated", i+1, section))
			}
			u[section] = map[string][]string{}
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			errs = append(errs, fmt.Errorf("line %d: %q is not Key=Value", i+1, line))
			continue
		}
		if section == "" {
			errs = append(errs, fmt.Errorf("line %d: %s outside a section", i+1, k))
			continue
		}
		k = strings.TrimSpace(k)
		if !regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*$`).MatchString(k) {
			errs = append(errs, fmt.Errorf("line %d: %q is not a key", i+1, k))
		}
		u[section][k] = append(u[section][k], strings.TrimSpace(v))
	}
	return u, errors.Join(errs...)
}

func (u unitFile) get(section, key string) string {
	v := u[section][key]
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

// checkUnit checks a service unit's sections, command and hardening.
func checkUnit(fsys fs.FS, name string) error {
	raw, err := fs.ReadFile(fsys, name)
	if err != nil {
		return err
	}
	u, err := parseUnit(string(raw))
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(name+": "+format, a...)) }
	for _, s := range []string{"Unit", "Service", "Install"} {
		if u[s] == nil {
			bad("no [%s] section", s)
		}
	}
	for s := range u {
		if s != "Unit" && s != "Service" && s != "Install" {
			bad("unexpected section [%s]", s)
		}
	}
	for _, k := range []string{"ExecStart", "ExecStartPre", "ExecStop", "Restart", "User", "DynamicUser", "ProtectSystem", "StateDirectory"} {
		if len(u["Unit"][k]) > 0 || len(u["Install"][k]) > 0 {
			bad("%s belongs in [Service]", k)
		}
	}
	exec := u.get("Service", "ExecStart")
	if exec == "" {
		bad("[Service] has no ExecStart")
	} else if !strings.HasPrefix(strings.TrimLeft(exec, "-@:+!"), "/") {
		bad("ExecStart %q is not an absolute path", exec)
	}
	if got := u.get("Service", "Restart"); got != "on-failure" {
		bad("Restart=%q, want on-failure", got)
	}
	if got := u.get("Service", "ProtectSystem"); got != "strict" {
		bad("ProtectSystem=%q, want strict", got)
	}
	if u.get("Service", "StateDirectory") == "" {
		bad("no StateDirectory (state_dir must survive restarts)")
	}
	if user := u.get("Service", "User"); u.get("Service", "DynamicUser") != "yes" && (user == "" || user == "root" || user == "0") {
		bad("runs as root: set DynamicUser=yes or a dedicated User=")
	}
	if len(u["Service"]["SystemCallFilter"]) > 0 && u.get("Service", "SystemCallErrorNumber") == "" {
		bad("SystemCallFilter without SystemCallErrorNumber: a filtered call kills the process (SIGSYS)")
	}
	if u.get("Service", "NoNewPrivileges") != "yes" {
		bad("NoNewPrivileges is not yes")
	}
	if u.get("Install", "WantedBy") == "" {
		bad("[Install] has no WantedBy")
	}
	return errors.Join(errs...)
}

// ---------------------------------------------------------------- alerts

type ruleFile struct {
	Groups []struct {
		Name     string `yaml:"name"`
		Interval string `yaml:"interval"`
		Rules    []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

var severities = map[string]bool{"page": true, "warning": true, "info": true}

var promDuration = regexp.MustCompile(`^([0-9]+(ms|s|m|h|d|w|y))+$`)

// checkAlerts checks Prometheus rule groups; it returns every expression.
func checkAlerts(fsys fs.FS, name string) ([]string, error) {
	raw, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, err
	}
	var rf ruleFile
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&rf); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var errs []error
	var exprs []string
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(name+": "+format, a...)) }
	if len(rf.Groups) == 0 {
		bad("no rule groups")
	}
	groups, alerts := map[string]bool{}, map[string]bool{}
	for _, g := range rf.Groups {
		if g.Name == "" || groups[g.Name] {
			bad("group name %q is empty or repeated", g.Name)
		}
		groups[g.Name] = true
		if len(g.Rules) == 0 {
			bad("group %s has no rules", g.Name)
		}
		for i, r := range g.Rules {
			id := fmt.Sprintf("group %s rule %d (%s)", g.Name, i, r.Alert+r.Record)
			if (r.Alert == "") == (r.Record == "") {
				bad("%s: exactly one of alert and record", id)
			}
			if r.Expr == "" {
				bad("%s: no expr", id)
			} else if err := promqlShape(r.Expr); err != nil {
				bad("%s: expr: %v", id, err)
			}
			exprs = append(exprs, r.Expr)
			if r.Record != "" {
				continue
			}
			if alerts[r.Alert] {
				bad("%s: alert name repeated", id)
			}
			alerts[r.Alert] = true
			if !promDuration.MatchString(r.For) {
				bad("%s: for %q is not a duration", id, r.For)
			}
			if !severities[r.Labels["severity"]] {
				bad("%s: labels.severity %q is not page, warning or info", id, r.Labels["severity"])
			}
			if r.Annotations["summary"] == "" {
				bad("%s: no annotations.summary", id)
			}
		}
	}
	return exprs, errors.Join(errs...)
}

// promqlShape is a cheap syntax check: brackets balance, strings close, and
// range selectors hold durations. promtool does the real parse where present.
func promqlShape(expr string) error {
	var stack []rune
	pairs := map[rune]rune{')': '(', ']': '[', '}': '{'}
	inStr := rune(0)
	for i, r := range expr {
		if inStr != 0 {
			if r == inStr && (i == 0 || expr[i-1] != '\\') {
				inStr = 0
			}
			continue
		}
		switch r {
		case '"', '\'', '`':
			inStr = r
		case '(', '[', '{':
			stack = append(stack, r)
		case ')', ']', '}':
			if len(stack) == 0 || stack[len(stack)-1] != pairs[r] {
				return fmt.Errorf("unbalanced %q at %d", r, i)
			}
			stack = stack[:len(stack)-1]
		}
	}
	if inStr != 0 {
		return errors.New("unterminated string")
	}
	if len(stack) > 0 {
		return fmt.Errorf("unclosed %q", stack[len(stack)-1])
	}
	for _, m := range regexp.MustCompile(`\[([^\]]*)\]`).FindAllStringSubmatch(expr, -1) {
		rng, step, _ := strings.Cut(m[1], ":")
		if !promDuration.MatchString(rng) && rng != "$__rate_interval" && rng != "$__interval" && rng != "$__range" {
			return fmt.Errorf("range [%s] is not a duration", m[1])
		}
		if step != "" && !promDuration.MatchString(step) {
			return fmt.Errorf("subquery step %q is not a duration", step)
		}
	}
	return nil
}

// ---------------------------------------------------------------- metrics

var metricRe = regexp.MustCompile(`\b(attnd_[a-z0-9_]+|up)\b`)

// metricNames returns the metric names an expression uses; histogram series
// (_bucket, _sum, _count) are reported by their base name when doc lists it.
func metricNames(expr string, doc map[string]docMetric) []string {
	// Drop label matchers and strings so label values are not taken for names.
	clean := regexp.MustCompile(`"[^"]*"`).ReplaceAllString(expr, `""`)
	var out []string
	for _, m := range metricRe.FindAllString(clean, -1) {
		if m == "up" && !regexp.MustCompile(`\bup\s*[{(=<>!]`).MatchString(clean) && !strings.Contains(clean, "up{") {
			continue
		}
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(m, suf); ok {
				if d, listed := doc[base]; listed && d.typ == "histogram" {
					m = base
				}
			}
		}
		out = append(out, m)
	}
	return out
}

type docMetric struct {
	typ, labels, from, status string
}

// documentedMetrics reads the metric table of deploy/README.md.
func documentedMetrics(fsys fs.FS, name string) (map[string]docMetric, error) {
	raw, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, err
	}
	_, after, ok := strings.Cut(string(raw), "### Metrics")
	if !ok {
		return nil, fmt.Errorf("%s: no \"### Metrics\" section", name)
	}
	out := map[string]docMetric{}
	row := regexp.MustCompile("^\\| `([a-z_][a-z0-9_]*)` \\|([^|]*)\\|([^|]*)\\|([^|]*)\\|([^|]*)\\|")
	for _, line := range strings.Split(after, "\n") {
		if strings.HasPrefix(line, "#") {
			break
		}
		m := row.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if _, dup := out[m[1]]; dup {
			return nil, fmt.Errorf("%s: metric %s listed twice", name, m[1])
		}
		out[m[1]] = docMetric{typ: strings.TrimSpace(m[2]), labels: strings.TrimSpace(m[3]), from: strings.TrimSpace(m[4]), status: strings.TrimSpace(m[5])}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: the Metrics table is empty", name)
	}
	for n, d := range out {
		switch d.typ {
		case "counter", "gauge", "histogram":
		default:
			return nil, fmt.Errorf("%s: %s: type %q is not counter, gauge or histogram", name, n, d.typ)
		}
		if d.typ == "counter" && !strings.HasSuffix(n, "_total") {
			return nil, fmt.Errorf("%s: counter %s does not end in _total", name, n)
		}
		if d.typ != "counter" && strings.HasSuffix(n, "_total") {
			return nil, fmt.Errorf("%s: %s %s ends in _total", name, d.typ, n)
		}
	}
	return out, nil
}

// checkMetricsDocumented reports every name used by exprs (where says from
// which file) that the table does not list.
func checkMetricsDocumented(where string, exprs []string, doc map[string]docMetric) error {
	var errs []error
	seen := map[string]bool{}
	for _, e := range exprs {
		for _, m := range metricNames(e, doc) {
			if _, ok := doc[m]; !ok && !seen[m] {
				seen[m] = true
				errs = append(errs, fmt.Errorf("%s uses %s, which deploy/README.md does not list", where, m))
			}
		}
	}
	return errors.Join(errs...)
}

// ---------------------------------------------------------------- dashboard

// checkDashboard checks a Grafana dashboard; it returns every expression.
func checkDashboard(fsys fs.FS, name string) ([]string, error) {
	raw, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, err
	}
	var d struct {
		UID           string `json:"uid"`
		Title         string `json:"title"`
		SchemaVersion int    `json:"schemaVersion"`
		Templating    struct {
			List []struct {
				Name string `json:"name"`
			} `json:"list"`
		} `json:"templating"`
		Panels []struct {
			ID         int    `json:"id"`
			Type       string `json:"type"`
			Title      string `json:"title"`
			Datasource any    `json:"datasource"`
			GridPos    struct {
				X, Y, W, H int
			} `json:"gridPos"`
			Targets []struct {
				RefID string `json:"refId"`
				Expr  string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var errs []error
	var exprs []string
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(name+": "+format, a...)) }
	if d.UID == "" || d.Title == "" || d.SchemaVersion < 30 {
		bad("uid, title and schemaVersion (>= 30) are required")
	}
	vars := map[string]bool{}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
	}
	builtin := map[string]bool{"__rate_interval": true, "__interval": true, "__range": true, "__all": true}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		id := fmt.Sprintf("panel %d (%s)", p.ID, p.Title)
		if ids[p.ID] || p.ID == 0 {
			bad("%s: id missing or repeated", id)
		}
		ids[p.ID] = true
		if p.Title == "" || p.Type == "" {
			bad("%s: title and type are required", id)
		}
		if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X < 0 || p.GridPos.X+p.GridPos.W > 24 {
			bad("%s: gridPos %+v is outside the 24-column grid", id, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil {
			bad("%s: no datasource", id)
		}
		if len(p.Targets) == 0 {
			bad("%s: no targets", id)
		}
		refs := map[string]bool{}
		for _, t := range p.Targets {
			if t.Expr == "" {
				bad("%s: target %s has no expr", id, t.RefID)
				continue
			}
			if refs[t.RefID] {
				bad("%s: refId %s repeated", id, t.RefID)
			}
			refs[t.RefID] = true
			if err := promqlShape(t.Expr); err != nil {
				bad("%s: %v", id, err)
			}
			for _, m := range regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)`).FindAllStringSubmatch(t.Expr, -1) {
				if !vars[m[1]] && !builtin[m[1]] {
					bad("%s: uses variable $%s, which templating does not define", id, m[1])
				}
			}
			exprs = append(exprs, t.Expr)
		}
	}
	return exprs, errors.Join(errs...)
}

// ---------------------------------------------------------------- configs

// checkIngestConfig loads an ingest config with faked secrets.
func checkIngestConfig(raw []byte) (ingest.Config, error) {
	return ingest.ParseConfig(raw, fakeEnv)
}

// checkPusherConfig loads a pusher config with internal/pusher.ParseConfig
// (strict, every section validated, secrets faked) and refuses secret values
// written in the file.
func checkPusherConfig(raw []byte) error {
	var errs []error
	if _, err := pusher.ParseConfig(raw, fakeEnv); err != nil {
		errs = append(errs, fmt.Errorf("pusher config: %w", err))
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return errors.Join(append(errs, err)...)
	}
	if str(doc, "clickhouse", "password") != "" {
		errs = append(errs, errors.New("pusher config: clickhouse.password is written in the file; use password_env"))
	}
	for _, k := range []string{"client_secret", "client_id"} {
		if str(doc, "daou", k) != "" {
			errs = append(errs, fmt.Errorf("pusher config: daou.%s is written in the file; use %s_env", k, k))
		}
	}
	return errors.Join(errs...)
}

// listenPort returns the port of a host:port.
func listenPort(addr string) string {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	return p
}

func yamlUnmarshal(b []byte, v any) error { return yaml.Unmarshal(b, v) }
