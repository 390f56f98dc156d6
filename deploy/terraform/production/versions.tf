terraform {
  required_version = ">= 1.6.0"
  # State in a GCS bucket; its name is given at init (-backend-config), never committed.
  backend "gcs" {
    prefix = "tungsten/production"
  }
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.0"
    }
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = "~> 2.38"
    }
    helm = {
      source  = "hashicorp/helm"
      version = "~> 3.0"
    }
  }
}
