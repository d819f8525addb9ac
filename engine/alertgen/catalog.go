package alertgen

// The vocabularies below are what DSPM alerts on AWS, Azure and GCP look
// like: policy names, resource kinds, regions and identities as the
// vendor's console shows them. Values are invented; shapes are not.

type cloud struct {
	name      string // the csp field
	regions   []string
	orgPrefix string
	idSource  string // identity_source of native identities
	cluster   string // cluster_type of its managed Kubernetes
}

var clouds = []cloud{
	{name: "AWS", regions: []string{"us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-northeast-1", "ap-southeast-2", "ca-central-1", "sa-east-1", "ap-south-1"}, idSource: "AWS IAM", cluster: "EKS"},
	{name: "Azure", regions: []string{"eastus", "eastus2", "westus2", "westeurope", "northeurope", "japaneast", "australiaeast", "uksouth", "centralindia"}, idSource: "Microsoft Entra ID", cluster: "AKS"},
	{name: "GCP", regions: []string{"us-central1", "us-east1", "us-west1", "europe-west1", "europe-west4", "asia-northeast1", "australia-southeast1", "southamerica-east1"}, idSource: "Google Cloud IAM", cluster: "GKE"},
}

// resourceKind is one class of data store; each cloud names it its own way.
type resourceKind int

const (
	kindObjectStore resourceKind = iota
	kindDatabase
	kindWarehouse
	kindVolume
	kindKubernetes
)

type resourceType struct {
	kind  resourceKind
	aws   string
	azure string
	gcp   string
}

var resourceTypes = []resourceType{
	{kindObjectStore, "AWS::S3::Bucket", "Microsoft.Storage/storageAccounts", "storage.googleapis.com/Bucket"},
	{kindDatabase, "AWS::RDS::DBInstance", "Microsoft.Sql/servers/databases", "sqladmin.googleapis.com/Instance"},
	{kindDatabase, "AWS::DynamoDB::Table", "Microsoft.DocumentDB/databaseAccounts", "firestore.googleapis.com/Database"},
	{kindWarehouse, "AWS::Redshift::Cluster", "Microsoft.Synapse/workspaces", "bigquery.googleapis.com/Dataset"},
	{kindVolume, "AWS::EC2::Volume", "Microsoft.Compute/disks", "compute.googleapis.com/Disk"},
	{kindKubernetes, "Pod", "Pod", "Pod"},
	{kindKubernetes, "PersistentVolume", "PersistentVolume", "PersistentVolume"},
}

type policy struct {
	name, ptype, threat, theme string
	benchmark, control         string
	kinds                      []resourceKind
	desc                       string // %s: resource name, %s: data classes
}

var policies = []policy{
	{"Sensitive data store is publicly accessible", "Data Exposure", "Data Exfiltration", "Public Access",
		"CIS AWS Foundations Benchmark v3.0.0", "2.1.4", []resourceKind{kindObjectStore, kindWarehouse},
		"The data store %s holds %s and grants read access to anonymous principals. Anyone who knows the endpoint can list and download its objects."},
	{"Unencrypted data store contains PII", "Encryption", "Data Theft", "Data Protection",
		"PCI DSS v4.0", "3.5.1", []resourceKind{kindObjectStore, kindDatabase, kindVolume, kindWarehouse},
		"Encryption at rest is disabled on %s although it contains %s. Snapshots and replicas inherit the missing encryption."},
	{"Database snapshot shared with an external account", "Data Exposure", "Data Exfiltration", "Data Sharing",
		"NIST SP 800-53 Rev. 5", "AC-3", []resourceKind{kindDatabase},
		"A snapshot of %s is shared with an account outside the organisation. The snapshot contains %s."},
	{"Sensitive data copied to a non-production environment", "Data Governance", "Data Leakage", "Data Residency",
		"ISO/IEC 27001:2022", "A.8.33", []resourceKind{kindObjectStore, kindDatabase, kindWarehouse},
		"Records classified as %[2]s were found in %[1]s, which is tagged as a development or test resource."},
	{"Over-privileged identity has access to sensitive data", "Access Governance", "Privilege Abuse", "Identity Risk",
		"CIS Azure Foundations Benchmark v2.1.0", "1.23", []resourceKind{kindObjectStore, kindDatabase, kindWarehouse, kindKubernetes},
		"An identity with administrative permissions that it has not used in 90 days can read %s, which holds %s."},
	{"Data store without backup or versioning", "Resilience", "Ransomware", "Data Protection",
		"SOC 2", "A1.2", []resourceKind{kindObjectStore, kindDatabase, kindVolume},
		"%s has neither versioning nor point-in-time recovery enabled; it holds %s that could not be restored after deletion or encryption by an attacker."},
	{"Kubernetes workload mounts a volume with secrets", "Workload Security", "Credential Access", "Secrets Exposure",
		"CIS Kubernetes Benchmark v1.9.0", "5.4.1", []resourceKind{kindKubernetes},
		"The workload %s mounts a volume in which DSPM found %s. Any process in the pod can read them."},
	{"Sensitive data stored outside the approved region", "Data Governance", "Compliance Violation", "Data Residency",
		"GDPR", "Art. 44", []resourceKind{kindObjectStore, kindDatabase, kindWarehouse, kindVolume},
		"%s is located outside the regions approved for %s by the data residency policy."},
	{"Logging disabled on a data store with financial data", "Monitoring", "Defense Evasion", "Audit Logging",
		"CIS Google Cloud Platform Foundation Benchmark v3.0.0", "2.1", []resourceKind{kindObjectStore, kindDatabase, kindWarehouse},
		"Data access logging is turned off for %s, which contains %s. Reads of the data would leave no trace."},
	{"Shadow data: unmanaged copy of a production database", "Data Governance", "Data Leakage", "Shadow Data",
		"HIPAA", "164.312(b)", []resourceKind{kindObjectStore, kindVolume},
		"%s looks like an unmanaged export of a production database and contains %s."},
}

var dataClasses = []string{
	"credit card numbers", "US social security numbers", "passport numbers", "email addresses",
	"IBAN bank accounts", "medical record numbers", "API keys", "private keys", "driver's licence numbers",
	"national insurance numbers", "dates of birth", "AWS access keys", "Japanese My Number identifiers",
}

var (
	statuses = []string{"Open", "Reopened", "In Progress", "Snoozed", "Ignored", "Resolved", "Closed"}
	// statusWeights (percent, with the unknown and blank cases below) follow
	// what an alert export contains: mostly open and resolved alerts.
	statusWeights  = []int{30, 6, 12, 6, 5, 20, 12}
	unknownStatus  = []string{"Escalated", "Pending Review", "Auto-Remediated"}
	statusDetailOf = map[string][]string{
		"Open":        {"Alert raised by the scheduled scan", "Alert raised by a real-time event"},
		"Reopened":    {"Issue detected again after it was resolved", "Reopened by %s"},
		"In Progress": {"Assigned to %s", "Remediation ticket created"},
		"Snoozed":     {"Snoozed for 7 days by %s", "Snoozed until the next maintenance window"},
		"Ignored":     {"Marked as accepted risk by %s", "Ignored: test data"},
		"Resolved":    {"Resolved automatically: the issue is no longer detected", "Resolved by %s"},
		"Closed":      {"Closed by %s", "Closed: resource deleted"},
	}
)

var risks = []struct {
	value  string
	weight int
}{
	// risk mix (percent): "" and missing are "no risk given" (severity 0
	// Unknown), Severe is the unknown vendor value (99 Other).
	{"Critical", 10}, {"High", 24}, {"Medium", 30}, {"Low", 18}, {"Info", 5}, {"Informational", 5},
	{"", 3}, {"<missing>", 3}, {"Severe", 2},
}

var (
	firstNames = []string{"alice", "bob", "carol", "dmitri", "emma", "farid", "grace", "hiroshi", "ines", "jun", "kofi", "lena", "mateo", "nadia", "oliver", "priya"}
	lastNames  = []string{"smith", "garcia", "tanaka", "muller", "okafor", "kowalski", "silva", "nguyen", "haddad", "jensen", "rossi", "kim"}
	domains    = []string{"example.com", "corp.example.org", "acme-retail.example", "globex.example.net"}
	teams      = []string{"data-platform", "payments", "analytics", "ml-research", "identity", "web", "finance-it", "security"}
	envs       = []string{"prod", "staging", "dev", "test", "sandbox"}
	apps       = []string{"checkout", "crm", "ledger", "datalake", "recommendations", "hr-portal", "billing", "telemetry"}
	// jaNames and emoji give the unicode fraction its content.
	jaNames    = []string{"顧客データ", "本番環境", "経理部門", "個人情報保護", "データ基盤チーム", "東京リージョン", "売上分析"}
	emoji      = []string{"🚨", "🔥", "🔒", "📦", "✅", "🛡️"}
	powerCats  = []string{"Admin", "Power User", "Data Access", "Read Only", "Privileged"}
	orgSuffix  = []string{"Holdings", "Group", "Inc.", "GmbH", "K.K.", "Ltd", "S.A."}
	orgStems   = []string{"Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Tyrell", "Cyberdyne", "Hooli", "Vandelay"}
	namespaces = []string{"default", "payments", "data", "kube-system", "ml", "web", "batch"}
)
