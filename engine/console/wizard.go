package console

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/ocsfmap/ocsfmap/engine"
	"github.com/ocsfmap/ocsfmap/engine/diag"
	"github.com/ocsfmap/ocsfmap/engine/integration"
	"github.com/ocsfmap/ocsfmap/engine/service"
	"github.com/ocsfmap/ocsfmap/engine/store"
)

// regions are the AWS regions Security Lake may live in, for the Bucket
// Region list (a region not listed, from an edited file, is added).
var regions = []string{
	"us-east-1", "us-east-2", "us-west-1", "us-west-2",
	"af-south-1", "ap-east-1", "ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2",
	"ap-southeast-3", "ap-southeast-4", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
	"ca-central-1", "ca-west-1", "eu-central-1", "eu-central-2", "eu-west-1", "eu-west-2", "eu-west-3",
	"eu-south-1", "eu-south-2", "eu-north-1", "il-central-1", "me-south-1", "me-central-1",
	"sa-east-1", "us-gov-east-1", "us-gov-west-1",
}

// wizard is the add / edit integration form: every step's fields travel in
// the form (hidden on the steps that do not show them), so the wizard keeps
// no state on the server and Back never loses anything.
type wizard struct {
	Mode        string // "new" or "edit"
	Step        string // "start", "storage", "review"
	Name        string
	Destination string
	Mapping     string
	RoleARN     string
	ExternalID  string
	Bucket      string
	Region      string
	Folder      string
	PathStyle   bool
	WriteProbe  bool
	Enabled     bool // edit only: unticked writes enabled: false

	// shown, not submitted
	Account    string
	AccountErr string
	RoleHint   string
	Errors     map[string]string
	Check      *checkView
	Mappings   []choice
	Regions    []string
	File       string
	EventClass string // the custom source's event class: the mapping's

	// Sources, for a mapping that emits several classes: one custom source
	// each (Security Lake takes one class per custom source), in place of
	// RoleARN and Folder. Their fields are role_arn.<class> and folder.<class>.
	Sources []wizardSource
}

// wizardSource is the custom source of one class the mapping emits.
type wizardSource struct {
	Class      string // the class's name: api_activity
	EventClass string // as the custom-source form says it: API Activity (class_uid 6003)
	RoleARN    string
	Folder     string
	RoleHint   string
}

type choice struct {
	Value, Label string
}

// checkView is a Test Connection's outcome in words.
type checkView struct {
	OK     bool
	Title  string
	Words  string
	Steps  []string
	Detail string
}

func (c *Console) wizardNew(w http.ResponseWriter, r *http.Request, s *session) {
	if c.o.Dir == "" {
		c.render(w, r, http.StatusConflict, "error", s, pageData{Title: "Add integration", Nav: "integrations",
			Error: "Start ocsfmap serve with -c FOLDER (a folder of integration files) to add integrations from the console: new files go into that folder."})
		return
	}
	id, err := store.NewExternalID()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	wz := &wizard{Mode: "new", Step: "start", Destination: integration.DestinationSecurityLake, ExternalID: id, Region: "us-east-1"}
	if m := c.mappingChoices(); len(m) > 0 {
		wz.Mapping = m[0]
		for _, p := range m { // the default the README recommends, when offered
			if strings.HasSuffix(p, "security_finding_1.1.0.yaml") {
				wz.Mapping = p
			}
		}
	}
	c.showWizard(w, r, s, wz, http.StatusOK)
}

func (c *Console) wizardEdit(w http.ResponseWriter, r *http.Request, s *session) {
	st, ok := c.svc.Status(r.PathValue("name"))
	if !ok {
		c.notFound(w, r, s, r.PathValue("name"))
		return
	}
	in, err := integration.LoadIntegration(st.File)
	if err != nil {
		c.render(w, r, http.StatusInternalServerError, "error", s, pageData{Title: "Edit " + st.Name, Nav: "integrations",
			Error: "The integration file does not load; fix it by hand, then reload: " + err.Error()})
		return
	}
	wz := &wizard{Mode: "edit", Step: "start", Name: in.Name, Destination: in.Destination, Mapping: abs(in.Mapping),
		RoleARN: in.RoleARN, ExternalID: in.ExternalID, Bucket: in.Bucket, Region: in.Region, Folder: in.Prefix,
		PathStyle: in.PathStyle, Enabled: !in.Disabled}
	if in.Prefix == "" && len(in.CustomSources) == 1 {
		// A one-class mapping whose file names its source per class.
		wz.Folder = in.CustomSources[0].Prefix
		if role := in.CustomSources[0].RoleARN; role != "" {
			wz.RoleARN = role
		}
	}
	wz.Sources = c.mappingSources(wz.Mapping)
	for i := range wz.Sources {
		src := &wz.Sources[i]
		for _, cs := range in.CustomSources {
			if cs.Class == src.Class {
				src.Folder, src.RoleARN = cs.Prefix, cs.RoleARN
			}
		}
		if src.RoleARN == "" {
			src.RoleARN = in.RoleARN
		}
	}
	if step := r.URL.Query().Get("step"); step == "storage" || step == "review" {
		wz.Step = step
	}
	c.showWizard(w, r, s, wz, http.StatusOK)
}

func abs(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

func (c *Console) notFound(w http.ResponseWriter, r *http.Request, s *session, name string) {
	c.render(w, r, http.StatusNotFound, "error", s, pageData{Title: "No such integration", Nav: "integrations",
		Error: fmt.Sprintf("There is no integration named %q.", name)})
}

func formWizard(r *http.Request) *wizard {
	f := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	return &wizard{
		Mode: f("mode"), Step: f("step"), Name: f("name"), Destination: f("destination"), Mapping: f("mapping"),
		RoleARN: f("role_arn"), ExternalID: f("external_id"), Bucket: f("bucket"), Region: f("region"),
		Folder: f("folder"), PathStyle: f("path_style") == "on", WriteProbe: f("write_probe") == "on",
		Enabled: f("mode") != "edit" || f("enabled") == "on",
	}
}

// formSources gives wz a custom source per class when its mapping emits
// several, with the form's values.
func (c *Console) formSources(wz *wizard, r *http.Request) {
	wz.Sources = c.mappingSources(wz.Mapping)
	for i := range wz.Sources {
		src := &wz.Sources[i]
		src.RoleARN = strings.TrimSpace(r.PostFormValue("role_arn." + src.Class))
		src.Folder = strings.TrimSpace(r.PostFormValue("folder." + src.Class))
	}
}

// mappingSources returns one empty wizardSource per class the mapping
// emits when it emits several (nil otherwise). Only a mapping offered is
// read: the form's path is anyone's.
func (c *Console) mappingSources(mapping string) []wizardSource {
	offered := false
	for _, m := range c.mappingChoices() {
		offered = offered || m == mapping
	}
	if !offered {
		return nil
	}
	cm := c.loadMapping(mapping)
	if cm.m == nil || len(cm.m.Plans) < 2 {
		return nil
	}
	out := make([]wizardSource, len(cm.m.Plans))
	for i, p := range cm.m.Plans {
		out[i] = wizardSource{Class: p.Class.Name, EventClass: fmt.Sprintf("%s (class_uid %d)", p.Class.Caption, p.Class.UID)}
	}
	return out
}

// wizardPost moves the wizard: next, back, edit a step, test, finish.
func (c *Console) wizardPost(w http.ResponseWriter, r *http.Request, s *session) {
	wz := formWizard(r)
	c.formSources(wz, r)
	if wz.Mode != "edit" {
		wz.Mode = "new"
	}
	if wz.Mode == "new" && c.o.Dir == "" {
		http.Error(w, "adding integrations is off: no -c folder", http.StatusConflict)
		return
	}
	if wz.Mode == "edit" {
		if _, ok := c.svc.Status(wz.Name); !ok {
			c.notFound(w, r, s, wz.Name)
			return
		}
	}
	action := r.PostFormValue("action")
	switch action {
	case "back":
		wz.Step = map[string]string{"storage": "start", "review": "storage"}[wz.Step]
	case "goto-start", "goto-storage":
		wz.Step = strings.TrimPrefix(action, "goto-")
	case "test":
		wz.Step = "storage"
		if c.validate(wz, "storage") {
			wz.Check = c.testConnection(r.Context(), wz)
		}
	case "next":
		if c.validate(wz, wz.Step) {
			wz.Step = map[string]string{"start": "storage", "storage": "review"}[wz.Step]
		}
	case "finish":
		if !c.validate(wz, "start") {
			wz.Step = "start"
			break
		}
		if !c.validate(wz, "storage") {
			wz.Step = "storage"
			break
		}
		name, err := c.finish(r.Context(), wz)
		if err != nil {
			wz.Step = "review"
			wz.Errors = map[string]string{"finish": err.Error()}
			break
		}
		code := "added"
		if wz.Mode == "edit" {
			code = "saved"
		}
		http.Redirect(w, r, "/?"+flashQuery(code, name), http.StatusSeeOther)
		return
	}
	if wz.Step == "" {
		wz.Step = "start"
	}
	status := http.StatusOK
	if len(wz.Errors) > 0 {
		status = http.StatusUnprocessableEntity
	}
	c.showWizard(w, r, s, wz, status)
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// validate checks one step's fields, noting each problem under its field.
func (c *Console) validate(wz *wizard, step string) bool {
	if wz.Errors == nil {
		wz.Errors = map[string]string{}
	}
	bad := func(field, msg string) { wz.Errors[field] = msg }
	switch step {
	case "start":
		switch {
		case wz.Name == "":
			bad("name", "Enter a name for the integration.")
		case !nameRE.MatchString(wz.Name) || wz.Name == "." || wz.Name == "..":
			bad("name", "Use letters, digits, '.', '_' and '-' (at most 64): the name names the integration's file and data folder.")
		case wz.Mode == "new":
			if _, taken := c.svc.Status(wz.Name); taken {
				bad("name", "An integration with this name exists: choose another.")
			} else if _, err := os.Stat(filepath.Join(c.o.Dir, wz.Name+".yaml")); err == nil {
				bad("name", "The file "+wz.Name+".yaml exists in "+c.o.Dir+": choose another name.")
			}
		}
		if wz.Destination != integration.DestinationSecurityLake {
			bad("destination", "Choose Amazon Security Lake.")
		}
		found := false
		for _, m := range c.mappingChoices() {
			found = found || m == wz.Mapping
		}
		if !found {
			bad("mapping", "Choose one of the mappings listed.")
		}
	case "storage":
		if len(wz.Sources) > 0 {
			c.validateSources(wz, bad)
			break
		}
		if err := store.CheckRoleARN(wz.RoleARN); err != nil {
			bad("role_arn", "Paste the role ARN the custom source shows in the Security Lake console ("+err.Error()+").")
		}
		if err := store.CheckExternalID(wz.ExternalID); err != nil {
			bad("external_id", err.Error())
		}
		checkBucket(wz, bad)
		if p, err := store.NormalizePrefix(wz.Folder); err != nil {
			bad("folder", "The folder Security Lake made for the custom source, like /ext/dspmalerts/: "+err.Error()+".")
		} else {
			wz.Folder = p
		}
	}
	return len(wz.Errors) == 0
}

func checkBucket(wz *wizard, bad func(field, msg string)) {
	if err := store.CheckBucket(wz.Bucket); err != nil {
		bad("bucket", err.Error()+".")
	}
	if err := store.CheckRegion(wz.Region); err != nil {
		bad("region", "Select the bucket's region.")
	}
}

// validateSources checks the Cloud Storage step of a mapping that emits
// several classes: a role and a folder per class, no folder twice.
func (c *Console) validateSources(wz *wizard, bad func(field, msg string)) {
	if err := store.CheckExternalID(wz.ExternalID); err != nil {
		bad("external_id", err.Error())
	}
	checkBucket(wz, bad)
	classOf := map[string]string{}
	for i := range wz.Sources {
		src := &wz.Sources[i]
		if err := store.CheckRoleARN(src.RoleARN); err != nil {
			bad("role_arn."+src.Class, "Paste the role ARN of this class's custom source ("+err.Error()+").")
		}
		p, err := store.NormalizePrefix(src.Folder)
		switch {
		case err != nil:
			bad("folder."+src.Class, "The folder Security Lake made for this class's custom source, like /ext/"+src.Class+"/: "+err.Error()+".")
		case classOf[p] != "":
			bad("folder."+src.Class, "The folder of "+classOf[p]+" too: Security Lake takes one class per custom source, so each class needs a custom source of its own.")
		default:
			src.Folder, classOf[p] = p, src.Class
		}
	}
}

// testConnection runs `ocsfmap connect`'s checks with the form's values.
func (c *Console) testConnection(ctx context.Context, wz *wizard) *checkView {
	done, wait, started := c.checks.start(time.Now())
	if !started {
		return &checkView{Title: "Too many connection tests", Words: fmt.Sprintf("A test is running, or several ran in a short while: each assumes the role. Try again in %d seconds.", int(math.Ceil(wait.Seconds())))}
	}
	defer done()
	targets := []wizardSource{{RoleARN: wz.RoleARN, Folder: wz.Folder}}
	if len(wz.Sources) > 0 {
		targets = wz.Sources
	}
	var res service.ConnectionResult
	var err error
	var steps []string
	for _, t := range targets {
		o := store.S3Options{Bucket: wz.Bucket, Region: wz.Region, RoleARN: t.RoleARN, ExternalID: wz.ExternalID,
			PathStyle: wz.PathStyle, SessionName: "ocsfmap-console"}
		res, err = service.CheckConnection(ctx, o, t.Folder, wz.WriteProbe)
		for _, st := range res.Steps {
			if t.Class != "" {
				st = t.Class + ": " + st
			}
			steps = append(steps, st)
		}
		if err != nil {
			break
		}
	}
	v := &checkView{OK: res.OK, Steps: steps}
	if err == nil {
		v.Title = "Connection successful"
		v.Words = fmt.Sprintf("The writer assumed the role with the External ID and reached bucket %s in %s.", wz.Bucket, wz.Region)
		if !wz.WriteProbe {
			v.Words += " Tick “Also write a probe object” to check that the role may write under the folder."
		}
		return v
	}
	v.Title, v.Words = kindWords(res.Kind)
	v.Detail = res.Error
	return v
}

// kindWords says a connection failure's kind in words, with what to fix.
func kindWords(kind string) (title, words string) {
	switch kind {
	case "role-refused":
		return "The role refused the External ID", "Security Lake's role would not be assumed: the External ID (or the Account ID) pasted into the custom source differs from the ones on this page, or the role ARN is another source's. Copy both again into the custom source, or paste the custom source's role ARN here."
	case "no-such-bucket":
		return "No such bucket", "The bucket does not exist: copy its name from the Security Lake console (Regions > the lake's region)."
	case "wrong-region":
		return "Wrong region", "The bucket lives in another region than the one selected: select the lake's region."
	case "access-denied":
		return "Access denied", "The role was assumed, but may not use the bucket: check that the folder is the custom source's and that the role's policy allows s3:PutObject under it."
	case "unreachable":
		return "Unreachable", "The S3 or STS endpoint could not be reached from this server: check the network, a proxy, or AWS_ENDPOINT_URL_* settings."
	case "credentials":
		return "No AWS credentials for the writer", "The server running ocsfmap has no usable AWS credentials of its own (environment, AWS_PROFILE, web identity, container or instance role)."
	}
	return "Connection failed", "The check failed for a reason ocsfmap does not recognise; the detail below is what AWS answered."
}

// finish writes the integration file and reloads the service: a new file
// into the console's folder (the integration starts Pending), an edited
// one in place, keeping its rules.
func (c *Console) finish(ctx context.Context, wz *wizard) (string, error) {
	var f integration.IntegrationFile
	var path string
	if wz.Mode == "edit" {
		st, ok := c.svc.Status(wz.Name)
		if !ok {
			return "", fmt.Errorf("no integration named %q", wz.Name)
		}
		in, err := integration.LoadIntegration(st.File)
		if err != nil {
			return "", fmt.Errorf("the integration file does not load; fix it by hand: %w", err)
		}
		path, f = st.File, integration.FileOf(in)
	} else {
		path = filepath.Join(c.o.Dir, wz.Name+".yaml")
		f = integration.IntegrationFile{
			Comment: fmt.Sprintf("Amazon Security Lake integration (ocsfmap console, %s).", time.Now().UTC().Format("2006-01-02")),
		}
		if cm := c.loadMapping(wz.Mapping); cm.m != nil {
			f.Rules = integration.StarterRules(cm.m.Plan.Fields)
		}
	}
	f.Name, f.Destination = wz.Name, wz.Destination
	f.Mapping = integration.RelativeMapping(path, wz.Mapping)
	f.RoleARN, f.ExternalID, f.Bucket, f.Region, f.Prefix, f.PathStyle = wz.RoleARN, wz.ExternalID, wz.Bucket, wz.Region, wz.Folder, wz.PathStyle
	f.CustomSources = nil
	if len(wz.Sources) > 0 {
		// One custom source per class, each with its own role.
		f.RoleARN, f.Prefix = "", ""
		for _, src := range wz.Sources {
			f.CustomSources = append(f.CustomSources, integration.CustomSource{Class: src.Class, Prefix: src.Folder, RoleARN: src.RoleARN})
		}
	}
	f.Disabled = !wz.Enabled
	if err := c.writeChecked(ctx, path, f, wz.Mode == "edit"); err != nil {
		return "", err
	}
	c.log.Info("integration file written", "file", path, "mode", wz.Mode)
	return wz.Name, nil
}

// writeChecked loads f from a scratch copy beside path first (mapping and
// rules compiled), so a file that would not load is never written, then
// writes path and reloads the service. A reload problem of this
// integration is the error.
func (c *Console) writeChecked(ctx context.Context, path string, f integration.IntegrationFile, replace bool) error {
	text, err := f.Render()
	if err != nil {
		return err
	}
	// Not *.yaml: a reload running meanwhile must not take it for an integration.
	scratch, err := os.CreateTemp(filepath.Dir(path), ".ocsfmap-check-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(scratch.Name())
	scratch.Write(text)
	scratch.Close()
	if _, err := engine.LoadIntegration(scratch.Name()); err != nil {
		var re *engine.RulesError
		if errors.As(err, &re) && len(re.Diags) == 0 {
			return errors.New("every alert rule would be disabled: keep at least one enabled, or nothing is exported")
		}
		return errors.New(diagText(err, scratch.Name(), path))
	}
	if err := integration.WriteIntegrationFile(path, f, replace); err != nil {
		return err
	}
	rerr := c.svc.Reload(ctx)
	st, ok := c.svc.Status(f.Name)
	switch {
	case !ok:
		return fmt.Errorf("written to %s, but the service did not load it: %v", path, rerr)
	case st.ConfigError != "":
		return fmt.Errorf("written to %s, but the reload failed (the previous configuration keeps running): %s", path, st.ConfigError)
	}
	if rerr != nil {
		c.log.Warn("reload: other integrations keep their previous configuration", "err", rerr)
	}
	return nil
}

// diagText renders an error's diagnostics, naming the real file instead of
// the scratch copy.
func diagText(err error, scratch, real string) string {
	var dl diag.List
	var le *engine.LoadError
	var text string
	switch {
	case errors.As(err, &le) && le.Diags.HasErrors():
		text = le.Diags.Render()
	case errors.As(err, &dl):
		text = dl.Render()
	default:
		text = err.Error()
	}
	if scratch != "" {
		text = strings.ReplaceAll(text, scratch, real)
	}
	return strings.TrimSpace(text)
}

func (c *Console) showWizard(w http.ResponseWriter, r *http.Request, s *session, wz *wizard, status int) {
	wz.Mappings = c.mappingLabels()
	for _, m := range wz.Mappings { // only a mapping offered is ever read: the form's path is anyone's
		if m.Value != wz.Mapping {
			continue
		}
		if cm := c.loadMapping(wz.Mapping); cm.m != nil {
			wz.EventClass = fmt.Sprintf("%s (class_uid %d)", cm.m.Plan.Class.Caption, cm.m.Plan.Class.UID)
		}
	}
	if wz.Sources == nil {
		wz.Sources = c.mappingSources(wz.Mapping)
	}
	if len(wz.Sources) > 0 {
		classes := make([]string, len(wz.Sources))
		for i, src := range wz.Sources {
			classes[i] = src.EventClass
		}
		wz.EventClass = strings.Join(classes, ", ")
	}
	wz.Regions = regions
	known := false
	for _, rg := range regions {
		known = known || rg == wz.Region
	}
	if !known && wz.Region != "" {
		wz.Regions = append([]string{wz.Region}, regions...)
	}
	if wz.Step == "storage" || wz.Step == "review" {
		wz.Account, wz.AccountErr = c.callerAccount(r.Context(), wz.Region)
	}
	if wz.Mode == "new" {
		wz.File = filepath.Join(c.o.Dir, wz.Name+".yaml")
	} else if st, ok := c.svc.Status(wz.Name); ok {
		wz.File = st.File
	}
	wz.RoleHint = roleHint(wz.Folder, wz.Region)
	for i := range wz.Sources {
		wz.Sources[i].RoleHint = roleHint(wz.Sources[i].Folder, wz.Region)
	}
	title := "Add integration"
	if wz.Mode == "edit" {
		title = "Edit integration " + wz.Name
	}
	c.render(w, r, status, "wizard", s, pageData{Title: title, Nav: "integrations", Data: wz})
}

// roleHint is the name of the role Security Lake makes for the custom
// source in folder, once there is one.
func roleHint(folder, region string) string {
	if src := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(folder, "/"), "ext/"), "/"); src != "" && region != "" {
		return store.ProviderRoleName(src, region)
	}
	return ""
}

type accountCache struct {
	region, account string
	at              time.Time
}

// callerAccount is the writer's account ID (STS GetCallerIdentity), cached
// a few minutes: every step of every wizard would ask otherwise.
func (c *Console) callerAccount(ctx context.Context, region string) (string, string) {
	if region == "" {
		region = "us-east-1"
	}
	c.acctMu.Lock()
	if c.acct.account != "" && c.acct.region == region && time.Since(c.acct.at) < 5*time.Minute {
		a := c.acct.account
		c.acctMu.Unlock()
		return a, ""
	}
	c.acctMu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	a, err := c.o.CallerAccount(ctx, region)
	if err != nil {
		return "", err.Error()
	}
	c.acctMu.Lock()
	c.acct = accountCache{region: region, account: a, at: time.Now()}
	c.acctMu.Unlock()
	return a, ""
}

// setEnabled is the list's Enable / Disable: it writes enabled: false (or
// removes it) in the integration file and reloads. A disabled integration
// refuses new alerts and delivers what it accepted.
func (c *Console) setEnabled(w http.ResponseWriter, r *http.Request, s *session) {
	name := r.PathValue("name")
	st, ok := c.svc.Status(name)
	if !ok {
		c.notFound(w, r, s, name)
		return
	}
	in, err := integration.LoadIntegration(st.File)
	if err == nil {
		f := integration.FileOf(in)
		f.Disabled = r.PostFormValue("enabled") != "on"
		err = c.writeChecked(r.Context(), st.File, f, true)
	}
	if err != nil {
		c.render(w, r, http.StatusUnprocessableEntity, "error", s, pageData{Title: "Integration " + name, Nav: "integrations", Error: err.Error()})
		return
	}
	code := "enabled"
	if r.PostFormValue("enabled") != "on" {
		code = "disabled"
	}
	http.Redirect(w, r, "/?"+flashQuery(code, name), http.StatusSeeOther)
}
