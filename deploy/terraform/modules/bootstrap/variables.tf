variable "namespaces" {
  description = "Namespaces created before Argo CD: argocd itself, the application, and the add-ons' (monitoring, istio-system)."
  type        = list(string)
  default     = ["argocd", "tungsten", "monitoring", "istio-system"]
}

variable "argocd_chart_version" {
  description = "Version of the argo-cd Helm chart (https://artifacthub.io/packages/helm/argo/argo-cd)."
  type        = string
  default     = "8.3.0"
}

variable "argocd_apps_chart_version" {
  description = "Version of the argocd-apps Helm chart that installs the root Application."
  type        = string
  default     = "2.0.2"
}

variable "argocd_domain" {
  description = "Host name of the Argo CD UI."
  type        = string
  default     = "argocd.example.com"
}

variable "repo_url" {
  description = "Git repository Argo CD syncs from."
  type        = string
  default     = "https://github.com/tungsten-blog/tungsten.git"
}

variable "target_revision" {
  description = "Branch, tag or commit of repo_url that the root Application tracks."
  type        = string
  default     = "main"
}
