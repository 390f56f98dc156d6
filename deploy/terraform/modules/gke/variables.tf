variable "project_id" {
  description = "Google Cloud project that holds the cluster."
  type        = string
}

variable "region" {
  description = "Region of the regional cluster (nodes in each of its zones)."
  type        = string
  default     = "europe-west1"
}

variable "name" {
  description = "Cluster name; also prefixes the VPC, subnet, router, NAT and node service account."
  type        = string
  default     = "tungsten"
}

variable "release_channel" {
  description = "GKE release channel: RAPID, REGULAR or STABLE."
  type        = string
  default     = "REGULAR"
}

variable "machine_type" {
  description = "Machine type of the node pool."
  type        = string
  default     = "e2-standard-4"
}

variable "min_nodes_per_zone" {
  description = "Minimum nodes per zone of the autoscaled node pool."
  type        = number
  default     = 1
}

variable "max_nodes_per_zone" {
  description = "Maximum nodes per zone of the autoscaled node pool."
  type        = number
  default     = 3
}

variable "nodes_cidr" {
  description = "Primary range of the node subnet."
  type        = string
  default     = "10.10.0.0/20"
}

variable "pods_cidr" {
  description = "Secondary range for pod IPs."
  type        = string
  default     = "10.20.0.0/14"
}

variable "services_cidr" {
  description = "Secondary range for Service IPs."
  type        = string
  default     = "10.24.0.0/20"
}

variable "master_cidr" {
  description = "/28 range of the control plane's private endpoint."
  type        = string
  default     = "172.16.0.0/28"
}

variable "authorized_networks" {
  description = "CIDRs allowed to reach the Kubernetes API (CI runners, operators)."
  type = list(object({
    name = string
    cidr = string
  }))
  default = []
}

variable "deletion_protection" {
  description = "Refuse `terraform destroy` of the cluster while true."
  type        = bool
  default     = true
}
