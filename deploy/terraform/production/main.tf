# Production on GKE: the cluster, then the GitOps bootstrap on it.
#   cd deploy/terraform/production
#   terraform init -backend-config="bucket=<state bucket>"
#   terraform apply -var project_id=<project>
# Two phases on a clean project (the Kubernetes providers need the cluster to exist):
#   terraform apply -target=module.gke -var project_id=<project> && terraform apply -var project_id=<project>

provider "google" {
  project = var.project_id
  region  = var.region
}

data "google_client_config" "current" {}

module "gke" {
  source = "../modules/gke"

  project_id          = var.project_id
  region              = var.region
  name                = var.cluster_name
  authorized_networks = var.authorized_networks
}

provider "kubernetes" {
  host                   = module.gke.endpoint
  token                  = data.google_client_config.current.access_token
  cluster_ca_certificate = base64decode(module.gke.ca_certificate)
}

provider "helm" {
  kubernetes = {
    host                   = module.gke.endpoint
    token                  = data.google_client_config.current.access_token
    cluster_ca_certificate = base64decode(module.gke.ca_certificate)
  }
}

module "bootstrap" {
  source = "../modules/bootstrap"

  repo_url        = var.repo_url
  target_revision = var.target_revision
  argocd_domain   = var.argocd_domain
}
