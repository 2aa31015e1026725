package deploy

import (
	"encoding/json"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/dezky/platform-api/internal/config"
)

const (
	kustomizeBase       = "kubernetes/base"
	kustomizeProduction = "kubernetes/overlays/production"
	containerName       = "platform-api"
	secretName          = "platform-api-secrets"
)

// serviceMonitor is the Prometheus Operator's ServiceMonitor (monitoring.coreos.com/v1),
// reduced to the fields this repository uses: it is not in k8s.io/api, and strict decoding
// into this struct rejects any other field, so a misspelt one fails here instead of being
// dropped by the API server's pruning.
type serviceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Selector  metav1.LabelSelector `json:"selector"`
		Endpoints []struct {
			Port          string `json:"port"`
			Path          string `json:"path"`
			Interval      string `json:"interval"`
			ScrapeTimeout string `json:"scrapeTimeout"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// prometheusRule is the Prometheus Operator's PrometheusRule; its spec is a Prometheus rules
// file (`groups:`), validated by Prometheus's own rule parser (see alertRules).
type prometheusRule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              json.RawMessage `json:"spec"`
}

// build is what `kustomize build` produced, decoded into typed objects.
type build struct {
	deployments     []*appsv1.Deployment
	configMaps      map[string]*corev1.ConfigMap
	secrets         map[string]*corev1.Secret
	services        []*corev1.Service
	serviceAccounts map[string]*corev1.ServiceAccount
	pdbs            []*policyv1.PodDisruptionBudget
	networkPolicies []*networkingv1.NetworkPolicy
	namespaces      []*corev1.Namespace
	monitors        []*serviceMonitor
	rules           []*prometheusRule
}

// kustomizeBuild runs kustomize (krusty, the library behind `kubectl apply -k`) on dir from
// disk and decodes every resource strictly into its API type: an unknown, misspelt or
// duplicated field, or an unexpected kind, fails the test.
func kustomizeBuild(t *testing.T, dir string) *build {
	t.Helper()
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	b := &build{configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{},
		serviceAccounts: map[string]*corev1.ServiceAccount{}}
	for _, r := range m.Resources() {
		j, err := r.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		gvk := r.GetGvk()
		var obj any
		switch gvk.ApiVersion() + "/" + gvk.Kind {
		case "apps/v1/Deployment":
			o := &appsv1.Deployment{}
			b.deployments, obj = append(b.deployments, o), o
		case "v1/ConfigMap":
			o := &corev1.ConfigMap{}
			b.configMaps[r.GetName()], obj = o, o
		case "v1/Secret":
			o := &corev1.Secret{}
			b.secrets[r.GetName()], obj = o, o
		case "v1/Service":
			o := &corev1.Service{}
			b.services, obj = append(b.services, o), o
		case "v1/ServiceAccount":
			o := &corev1.ServiceAccount{}
			b.serviceAccounts[r.GetName()], obj = o, o
		case "v1/Namespace":
			o := &corev1.Namespace{}
			b.namespaces, obj = append(b.namespaces, o), o
		case "policy/v1/PodDisruptionBudget":
			o := &policyv1.PodDisruptionBudget{}
			b.pdbs, obj = append(b.pdbs, o), o
		case "networking.k8s.io/v1/NetworkPolicy":
			o := &networkingv1.NetworkPolicy{}
			b.networkPolicies, obj = append(b.networkPolicies, o), o
		case "monitoring.coreos.com/v1/ServiceMonitor":
			o := &serviceMonitor{}
			b.monitors, obj = append(b.monitors, o), o
		case "monitoring.coreos.com/v1/PrometheusRule":
			o := &prometheusRule{}
			b.rules, obj = append(b.rules, o), o
		default:
			t.Errorf("%s: unexpected %s %s (add it to the test's decoder)", dir, gvk, r.GetName())
			continue
		}
		if err := decodeStrict(j, obj); err != nil {
			t.Errorf("%s: %s %s does not decode strictly: %v", dir, gvk.Kind, r.GetName(), err)
		}
	}
	if len(b.deployments) != 1 {
		t.Fatalf("%s: %d Deployments, want 1", dir, len(b.deployments))
	}
	return b
}

// TestKustomizeBuilds runs the structural checks on both trees.
func TestKustomizeBuilds(t *testing.T) {
	cases := map[string]struct {
		dir          string
		minReplicas  int32
		secretInTree bool // production manages the Secret outside git
		namespace    string
	}{
		"base":       {kustomizeBase, 2, true, ""},
		"production": {kustomizeProduction, 2, false, "dezky"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			b := kustomizeBuild(t, tc.dir)
			d := b.deployments[0]
			pod := d.Spec.Template
			c := container(t, d)

			if d.Spec.Replicas == nil || *d.Spec.Replicas < tc.minReplicas {
				t.Errorf("replicas = %v, want at least %d", d.Spec.Replicas, tc.minReplicas)
			}
			checkProbesAndPorts(t, b, c)
			checkHardening(t, pod.Spec, c)
			checkEnvironment(t, b, c, tc.secretInTree)
			checkSelectors(t, b, d)
			checkServiceAccount(t, b, pod.Spec)
			if tc.namespace != "" {
				checkNamespace(t, b, tc.namespace)
			}
			if len(b.rules) != 1 {
				t.Errorf("%d PrometheusRules, want the alert rules", len(b.rules))
			}
		})
	}
}

// TestKustomizeProductionOverlay: what the overlay is for.
func TestKustomizeProductionOverlay(t *testing.T) {
	base, prod := kustomizeBuild(t, kustomizeBase), kustomizeBuild(t, kustomizeProduction)
	c := container(t, prod.deployments[0])
	if !strings.Contains(c.Image, ":v") || strings.HasSuffix(c.Image, ":latest") {
		t.Errorf("production image %q: want a release tag", c.Image)
	}
	if *prod.deployments[0].Spec.Replicas <= *base.deployments[0].Spec.Replicas {
		t.Errorf("production replicas %d not above the base's %d", *prod.deployments[0].Spec.Replicas, *base.deployments[0].Spec.Replicas)
	}
	if _, ok := prod.secrets[secretName]; ok {
		t.Errorf("production ships the placeholder Secret %s: `kubectl apply -k` would overwrite the real one", secretName)
	}
	cfg := loadConfig(t, prod, c, map[string]string{
		// The real values live in the Secret created outside git; any non-empty value stands in.
		"MONGO_URI": "mongodb://u:p@mongo-0.mongo/?replicaSet=rs0", "AUTHENTIK_API_TOKEN": "x",
		"STALWART_API_TOKEN": "x", "OCIS_CLIENT_SECRET": "x",
	})
	for name, u := range map[string]string{"AUTHENTIK_API_URL": cfg.AuthentikAPIURL, "STALWART_API_URL": cfg.StalwartAPIURL,
		"OCIS_API_URL": cfg.OCISAPIURL, "OCIS_TOKEN_URL": cfg.OCISTokenURL, "OIDC_ISSUER_URL": cfg.OIDCIssuerURL} {
		if !strings.HasPrefix(u, "https://") {
			t.Errorf("production %s = %q, want an https URL (an empty upstream URL skips its step)", name, u)
		}
	}
	if cfg.AuthDisabled {
		t.Error("production has AUTH_DISABLED=true")
	}
	if len(prod.networkPolicies) != 1 || len(prod.networkPolicies[0].Spec.Ingress) == 0 || len(prod.networkPolicies[0].Spec.Ingress[0].From) == 0 {
		t.Error("production NetworkPolicy does not narrow who may call the API")
	}
}

func container(t *testing.T, d *appsv1.Deployment) corev1.Container {
	t.Helper()
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name == containerName {
			return c
		}
	}
	t.Fatalf("no container %q in %s", containerName, d.Name)
	return corev1.Container{}
}

// checkProbesAndPorts: liveness on /health, readiness on /ready, both on the port the process
// listens on (HTTP_ADDR), which the Service targets.
func checkProbesAndPorts(t *testing.T, b *build, c corev1.Container) {
	t.Helper()
	cm := configMapOf(t, b, c)
	_, port, err := net.SplitHostPort(cm.Data["HTTP_ADDR"])
	if err != nil {
		t.Fatalf("HTTP_ADDR %q: %v", cm.Data["HTTP_ADDR"], err)
	}
	var http *corev1.ContainerPort
	for i := range c.Ports {
		if c.Ports[i].Name == "http" {
			http = &c.Ports[i]
		}
	}
	if http == nil || port != strconv.Itoa(int(http.ContainerPort)) {
		t.Fatalf("container port http = %+v, want %s (HTTP_ADDR)", http, port)
	}
	probe := func(what string, p *corev1.Probe, path string) {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("%s probe: want an HTTP GET of %s", what, path)
			return
		}
		if p.HTTPGet.Path != path || (p.HTTPGet.Port.String() != "http" && p.HTTPGet.Port.IntValue() != int(http.ContainerPort)) {
			t.Errorf("%s probe = GET %s on port %s, want %s on http", what, p.HTTPGet.Path, p.HTTPGet.Port.String(), path)
		}
	}
	probe("liveness", c.LivenessProbe, "/health")
	probe("readiness", c.ReadinessProbe, "/ready")
	if r := c.Resources; r.Requests.Cpu().IsZero() || r.Requests.Memory().IsZero() || r.Limits.Memory().IsZero() {
		t.Errorf("resources = %+v: want CPU and memory requests and a memory limit", r)
	}
}

// checkHardening: the pod runs as non-root under the runtime's seccomp profile, and the
// container cannot gain privileges or write its root filesystem.
func checkHardening(t *testing.T, pod corev1.PodSpec, c corev1.Container) {
	t.Helper()
	ps := pod.SecurityContext
	if ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || ps.SeccompProfile == nil || ps.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext = %+v: want runAsNonRoot and seccomp RuntimeDefault", ps)
	}
	sc := c.SecurityContext
	if sc == nil {
		t.Fatal("container has no securityContext")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation is not false")
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("readOnlyRootFilesystem is not true")
	}
	if sc.Privileged != nil && *sc.Privileged {
		t.Error("privileged")
	}
	if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0 {
		t.Errorf("capabilities = %+v, want drop [ALL] and nothing added", sc.Capabilities)
	}
	if sc.RunAsUser != nil && *sc.RunAsUser == 0 || ps != nil && ps.RunAsUser != nil && *ps.RunAsUser == 0 {
		t.Error("runs as uid 0")
	}
}

// checkEnvironment: every setting platform-api reads is set by name, each from the ConfigMap or
// (credentials only) the Secret, and both hold exactly the keys referenced.
func checkEnvironment(t *testing.T, b *build, c corev1.Container, secretInTree bool) {
	t.Helper()
	if len(c.EnvFrom) > 0 {
		t.Errorf("envFrom %+v: name every variable instead, so a missing key stops the pod", c.EnvFrom)
	}
	cm := configMapOf(t, b, c)
	var names, fromConfig, fromSecret []string
	for _, e := range c.Env {
		names = append(names, e.Name)
		switch {
		case e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil && e.ValueFrom.ConfigMapKeyRef.Name == cm.Name:
			ref := e.ValueFrom.ConfigMapKeyRef
			fromConfig = append(fromConfig, ref.Key)
			if ref.Key != e.Name || isTrue(ref.Optional) {
				t.Errorf("%s: from ConfigMap key %q (optional=%v): want its own name, required", e.Name, ref.Key, isTrue(ref.Optional))
			}
			if secretSettings[e.Name] {
				t.Errorf("%s is a credential: it belongs in the Secret, not the ConfigMap", e.Name)
			}
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && e.ValueFrom.SecretKeyRef.Name == secretName:
			ref := e.ValueFrom.SecretKeyRef
			fromSecret = append(fromSecret, ref.Key)
			if ref.Key != e.Name || isTrue(ref.Optional) {
				t.Errorf("%s: from Secret key %q (optional=%v): want its own name, required", e.Name, ref.Key, isTrue(ref.Optional))
			}
		default:
			t.Errorf("%s is not read from the ConfigMap %s or the Secret %s: %+v", e.Name, cm.Name, secretName, e)
		}
	}
	slices.Sort(names)
	if diff := cmp.Diff(settingNames(), names); diff != "" {
		t.Errorf("container env vs config.Vars() (-missing +unknown):\n%s", diff)
	}
	slices.Sort(fromConfig)
	if diff := cmp.Diff(fromConfig, sortedKeys(cm.Data)); diff != "" {
		t.Errorf("ConfigMap keys vs keys the container reads (-read +only in the ConfigMap):\n%s", diff)
	}
	slices.Sort(fromSecret)
	if diff := cmp.Diff(sortedKeys(secretSettings), fromSecret); diff != "" {
		t.Errorf("settings read from the Secret (-want +got):\n%s", diff)
	}
	if s, ok := b.secrets[secretName]; ok != secretInTree {
		t.Errorf("Secret %s in the build: %v, want %v", secretName, ok, secretInTree)
	} else if ok {
		keys := map[string]bool{}
		for k := range s.StringData {
			keys[k] = true
		}
		for k := range s.Data {
			keys[k] = true
		}
		if diff := cmp.Diff(fromSecret, sortedKeys(keys)); diff != "" {
			t.Errorf("Secret keys vs keys the container reads (-read +only in the Secret):\n%s", diff)
		}
		secrets := map[string]string{}
		for k, v := range s.StringData {
			secrets[k] = v
		}
		loadConfig(t, b, c, secrets)
	}
}

// loadConfig runs platform-api's own configuration loader on what the pod would see: the
// ConfigMap's values plus the given Secret values.
func loadConfig(t *testing.T, b *build, c corev1.Container, secrets map[string]string) config.Config {
	t.Helper()
	env := map[string]string{}
	for k, v := range configMapOf(t, b, c).Data {
		env[k] = v
	}
	for k, v := range secrets {
		env[k] = v
	}
	cfg, err := config.Load(lookupFrom(env), nil)
	if err != nil {
		t.Fatalf("platform-api would refuse this configuration: %v", err)
	}
	return cfg
}

// configMapOf is the (generated, hash-suffixed) ConfigMap the container's env refers to.
func configMapOf(t *testing.T, b *build, c corev1.Container) *corev1.ConfigMap {
	t.Helper()
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil {
			if cm, ok := b.configMaps[e.ValueFrom.ConfigMapKeyRef.Name]; ok {
				return cm
			}
			t.Fatalf("%s refers to ConfigMap %q, which the build does not contain", e.Name, e.ValueFrom.ConfigMapKeyRef.Name)
		}
	}
	t.Fatal("the container reads no ConfigMap")
	return nil
}

// checkSelectors: the Service, PodDisruptionBudget, NetworkPolicy and ServiceMonitor all select
// the Deployment's pods (or its Service), on the named API port.
func checkSelectors(t *testing.T, b *build, d *appsv1.Deployment) {
	t.Helper()
	podLabels := labels.Set(d.Spec.Template.Labels)
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || !sel.Matches(podLabels) {
		t.Fatalf("the Deployment's selector does not match its pods: %v", err)
	}
	if len(b.services) != 1 {
		t.Fatalf("%d Services, want 1", len(b.services))
	}
	svc := b.services[0]
	if !labels.SelectorFromSet(svc.Spec.Selector).Matches(podLabels) || len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort.String() != "http" {
		t.Errorf("Service %s does not route to the pods' http port: %+v", svc.Name, svc.Spec)
	}
	if len(b.pdbs) != 1 {
		t.Fatalf("%d PodDisruptionBudgets, want 1", len(b.pdbs))
	}
	pdb := b.pdbs[0]
	if s, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector); err != nil || !s.Matches(podLabels) {
		t.Errorf("PodDisruptionBudget does not select the pods")
	}
	if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 {
		t.Errorf("PodDisruptionBudget maxUnavailable = %v, want 1", pdb.Spec.MaxUnavailable)
	}
	if len(b.networkPolicies) != 1 {
		t.Fatalf("%d NetworkPolicies, want 1", len(b.networkPolicies))
	}
	np := b.networkPolicies[0]
	if s, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector); err != nil || !s.Matches(podLabels) {
		t.Error("NetworkPolicy does not select the pods")
	}
	if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) || !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) {
		t.Errorf("NetworkPolicy policyTypes = %v, want Ingress and Egress", np.Spec.PolicyTypes)
	}
	apiOpen := false
	for _, r := range np.Spec.Ingress {
		for _, p := range r.Ports {
			if p.Port != nil && p.Port.String() == "http" {
				apiOpen = true
			}
		}
	}
	if !apiOpen {
		t.Error("NetworkPolicy lets nothing reach the API port")
	}
	if len(b.monitors) != 1 {
		t.Fatalf("%d ServiceMonitors, want 1", len(b.monitors))
	}
	sm := b.monitors[0]
	if s, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector); err != nil || !s.Matches(labels.Set(svc.Labels)) {
		t.Error("ServiceMonitor does not select the Service")
	}
	if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != svc.Spec.Ports[0].Name || sm.Spec.Endpoints[0].Path != "/metrics" {
		t.Errorf("ServiceMonitor endpoints = %+v, want /metrics on the Service's %s port", sm.Spec.Endpoints, svc.Spec.Ports[0].Name)
	}
}

// checkServiceAccount: a dedicated account with no token mounted (the leader lease is in
// MongoDB, so nothing calls the Kubernetes API).
func checkServiceAccount(t *testing.T, b *build, pod corev1.PodSpec) {
	t.Helper()
	sa, ok := b.serviceAccounts[pod.ServiceAccountName]
	if !ok {
		t.Fatalf("serviceAccountName %q is not in the build", pod.ServiceAccountName)
	}
	if !isFalse(sa.AutomountServiceAccountToken) || !isFalse(pod.AutomountServiceAccountToken) {
		t.Errorf("automountServiceAccountToken: account %v, pod %v; want false on both", sa.AutomountServiceAccountToken, pod.AutomountServiceAccountToken)
	}
}

// checkNamespace: everything lands in the namespace, which enforces the restricted Pod Security
// Standard the pods are built to meet.
func checkNamespace(t *testing.T, b *build, ns string) {
	t.Helper()
	if len(b.namespaces) != 1 || b.namespaces[0].Name != ns || b.namespaces[0].Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
		t.Errorf("namespaces = %+v, want %s enforcing restricted", b.namespaces, ns)
	}
	check := func(kind, name, got string) {
		if got != ns {
			t.Errorf("%s %s in namespace %q, want %q", kind, name, got, ns)
		}
	}
	for _, o := range b.deployments {
		check("Deployment", o.Name, o.Namespace)
	}
	for _, o := range b.configMaps {
		check("ConfigMap", o.Name, o.Namespace)
	}
	for _, o := range b.services {
		check("Service", o.Name, o.Namespace)
	}
	for _, o := range b.monitors {
		check("ServiceMonitor", o.Name, o.Namespace)
	}
	for _, o := range b.rules {
		check("PrometheusRule", o.Name, o.Namespace)
	}
}

func isTrue(b *bool) bool  { return b != nil && *b }
func isFalse(b *bool) bool { return b != nil && !*b }
