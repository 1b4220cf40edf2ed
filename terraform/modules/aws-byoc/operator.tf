# The Fjord operator (agent + controller), installed from the Helm chart in
# the Fjord repository's operator/deploy. The chart is expected to take the
# values below: the control plane's URL and the one-time registration
# token, kept in a Kubernetes Secret the agent reads once to register.

locals {
  operator_chart = coalesce(var.operator_chart_path, "${path.module}/../../../operator/deploy")
}

resource "helm_release" "operator" {
  count            = var.install_operator ? 1 : 0
  name             = "fjord-operator"
  namespace        = "fjord-system"
  create_namespace = true
  chart            = local.operator_chart
  atomic           = true
  wait             = true
  timeout          = 600

  set {
    name  = "controlPlane.url"
    value = var.control_plane_url
  }

  set_sensitive {
    name  = "registration.token"
    value = var.registration_token
  }

  lifecycle {
    precondition {
      condition     = var.registration_token != null
      error_message = "registration_token is required to install the operator (fjord_environment.<name>.registration_token)."
    }
  }

  depends_on = [aws_eks_node_group.brokers]
}
