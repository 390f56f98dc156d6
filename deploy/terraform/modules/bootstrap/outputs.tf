output "argocd_namespace" {
  description = "Namespace of Argo CD."
  value       = helm_release.argocd.namespace
}

output "argocd_chart_version" {
  description = "Installed argo-cd chart version."
  value       = helm_release.argocd.version
}

output "root_application" {
  description = "Name of the root (app of apps) Application."
  value       = local.root.metadata.name
}
