output "cluster_name" {
  description = "Name of the GKE cluster (gcloud container clusters get-credentials <name> --region <region>)."
  value       = module.gke.cluster_name
}

output "endpoint" {
  description = "Kubernetes API endpoint."
  value       = module.gke.endpoint
}

output "root_application" {
  description = "The Argo CD root Application."
  value       = module.bootstrap.root_application
}
