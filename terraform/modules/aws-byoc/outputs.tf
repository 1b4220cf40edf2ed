output "aws_account_id" {
  description = "For fjord_cloud_account.aws_account_id."
  value       = data.aws_caller_identity.current.account_id
}

output "role_arn" {
  description = "For fjord_cloud_account.role_arn: the role Fjord assumes."
  value       = aws_iam_role.fjord.arn
}

output "region" {
  description = "For fjord_environment.region."
  value       = var.region
}

output "vpc_id" {
  description = "The VPC the brokers run in."
  value       = aws_vpc.this.id
}

output "private_subnet_ids" {
  description = "One private subnet per zone (nodes and brokers)."
  value       = aws_subnet.private[*].id
}

output "eks_cluster_name" {
  description = "The EKS cluster the operator runs on."
  value       = aws_eks_cluster.this.name
}

output "eks_cluster_endpoint" {
  description = "The EKS API endpoint, for the helm and kubernetes providers."
  value       = aws_eks_cluster.this.endpoint
}

output "eks_cluster_ca_certificate" {
  description = "The EKS cluster's CA certificate (base64), for the helm and kubernetes providers."
  value       = aws_eks_cluster.this.certificate_authority[0].data
}
