output "cluster_name" {
  description = "Name of the GKE cluster."
  value       = google_container_cluster.this.name
}

output "endpoint" {
  description = "HTTPS endpoint of the Kubernetes API."
  value       = "https://${google_container_cluster.this.endpoint}"
}

output "ca_certificate" {
  description = "Base64-encoded CA certificate of the Kubernetes API."
  value       = google_container_cluster.this.master_auth[0].cluster_ca_certificate
  sensitive   = true
}

output "network" {
  description = "Self link of the VPC (peer Cloud SQL / Memorystore into it for private access)."
  value       = google_compute_network.this.self_link
}

output "workload_pool" {
  description = "Workload Identity pool, for binding Kubernetes service accounts to Google ones."
  value       = "${var.project_id}.svc.id.goog"
}
