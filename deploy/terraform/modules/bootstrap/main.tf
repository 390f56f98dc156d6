# Bootstrap of a fresh cluster for GitOps: the namespaces, Argo CD (Helm chart), and the
# root Application (deploy/argocd/root.yaml). Everything else — Tungsten, its policies,
# monitoring objects, rollouts — is synced by Argo CD from git.

resource "kubernetes_namespace_v1" "this" {
  for_each = toset(var.namespaces)
  metadata {
    name = each.value
    labels = {
      "app.kubernetes.io/managed-by" = "terraform"
    }
  }
  lifecycle {
    # Argo CD and Istio add labels of their own (istio-injection, pod-security.*).
    ignore_changes = [metadata[0].labels, metadata[0].annotations]
  }
}

resource "helm_release" "argocd" {
  name             = "argocd"
  namespace        = "argocd"
  repository       = "https://argoproj.github.io/argo-helm"
  chart            = "argo-cd"
  version          = var.argocd_chart_version
  create_namespace = false
  wait             = true
  timeout          = 600

  values = [yamlencode({
    global = {
      domain = var.argocd_domain
    }
    configs = {
      params = {
        "server.insecure" = false
      }
    }
    controller = {
      replicas = 1
    }
    server = {
      replicas = 2
    }
    repoServer = {
      replicas = 2
    }
  })]

  depends_on = [kubernetes_namespace_v1.this]
}

# The app of apps, through the argocd-apps chart rather than kubernetes_manifest: the
# latter needs the Application CRD at *plan* time, so it cannot plan on a clean cluster.
# Applied once; from then on Argo CD owns deploy/argocd.
locals {
  root = yamldecode(templatefile("${path.module}/root.yaml.tftpl", {
    repo_url        = var.repo_url
    target_revision = var.target_revision
  }))
}

resource "helm_release" "root" {
  name       = "tungsten-root"
  namespace  = "argocd"
  repository = "https://argoproj.github.io/argo-helm"
  chart      = "argocd-apps"
  version    = var.argocd_apps_chart_version

  values = [yamlencode({
    applications = {
      (local.root.metadata.name) = merge(local.root.spec, {
        namespace  = local.root.metadata.namespace
        finalizers = local.root.metadata.finalizers
      })
    }
  })]

  depends_on = [helm_release.argocd]
}
