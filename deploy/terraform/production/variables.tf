variable "project_id" {
  description = "Google Cloud project of the production cluster."
  type        = string
}

variable "region" {
  description = "Region of the cluster."
  type        = string
  default     = "europe-west1"
}

variable "cluster_name" {
  description = "Name of the GKE cluster."
  type        = string
  default     = "tungsten-production"
}

variable "authorized_networks" {
  description = "CIDRs allowed to reach the Kubernetes API."
  type = list(object({
    name = string
    cidr = string
  }))
  default = []
}

variable "repo_url" {
  description = "Git repository Argo CD syncs from."
  type        = string
  default     = "https://github.com/tungsten-blog/tungsten.git"
}

variable "target_revision" {
  description = "Revision the root Application tracks."
  type        = string
  default     = "main"
}

variable "argocd_domain" {
  description = "Host name of the Argo CD UI."
  type        = string
  default     = "argocd.example.com"
}
