# The role the Fjord control plane assumes (DESIGN.md D8): only the vendor's
# account, only with this account's external id, only what provisioning
# needs (look at the VPC, manage security groups for broker ports that it
# tagged itself, read the EKS cluster), and never more than the permission
# boundary allows, whatever policy is attached to it later.

locals {
  partition      = data.aws_partition.current.partition
  account_id     = data.aws_caller_identity.current.account_id
  vpc_arn        = "arn:${local.partition}:ec2:${var.region}:${local.account_id}:vpc/${aws_vpc.this.id}"
  sg_arn_pattern = "arn:${local.partition}:ec2:${var.region}:${local.account_id}:security-group/*"
  managed_tag    = "fjord.io/managed-by"
}

data "aws_iam_policy_document" "trust" {
  statement {
    sid     = "FjordControlPlaneOnly"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${var.vendor_account_id}:root"]
    }
    condition {
      test     = "StringEquals"
      variable = "sts:ExternalId"
      values   = [var.external_id]
    }
  }
}

# What Fjord may do at most: the boundary holds even if someone attaches a
# broader policy to the role later.
data "aws_iam_policy_document" "fjord" {
  statement {
    sid    = "ReadNetworkAndCluster"
    effect = "Allow"
    # Describe calls cannot be scoped to resources in IAM.
    actions = [
      "ec2:DescribeVpcs",
      "ec2:DescribeSubnets",
      "ec2:DescribeSecurityGroups",
      "ec2:DescribeSecurityGroupRules",
      "ec2:DescribeAvailabilityZones",
      "ec2:DescribeTags",
    ]
    resources = ["*"]
  }

  statement {
    sid       = "DescribeTheEksCluster"
    effect    = "Allow"
    actions   = ["eks:DescribeCluster"]
    resources = [aws_eks_cluster.this.arn]
  }

  statement {
    sid       = "CreateTaggedSecurityGroupsInTheVpc"
    effect    = "Allow"
    actions   = ["ec2:CreateSecurityGroup"]
    resources = [local.vpc_arn]
  }

  statement {
    sid       = "CreateSecurityGroupsOnlyTagged"
    effect    = "Allow"
    actions   = ["ec2:CreateSecurityGroup"]
    resources = [local.sg_arn_pattern]
    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/${local.managed_tag}"
      values   = ["fjord"]
    }
  }

  statement {
    sid       = "TagOnlyWhileCreating"
    effect    = "Allow"
    actions   = ["ec2:CreateTags"]
    resources = [local.sg_arn_pattern]
    condition {
      test     = "StringEquals"
      variable = "ec2:CreateAction"
      values   = ["CreateSecurityGroup"]
    }
  }

  statement {
    sid    = "ChangeOnlyItsOwnSecurityGroups"
    effect = "Allow"
    actions = [
      "ec2:AuthorizeSecurityGroupIngress",
      "ec2:RevokeSecurityGroupIngress",
      "ec2:AuthorizeSecurityGroupEgress",
      "ec2:RevokeSecurityGroupEgress",
      "ec2:DeleteSecurityGroup",
    ]
    resources = [local.sg_arn_pattern]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/${local.managed_tag}"
      values   = ["fjord"]
    }
  }
}

data "aws_iam_policy_document" "boundary" {
  source_policy_documents = [data.aws_iam_policy_document.fjord.json]

  statement {
    sid    = "NeverIdentityOrKeys"
    effect = "Deny"
    actions = [
      "iam:*",
      "organizations:*",
      "kms:*",
      "sts:AssumeRole",
    ]
    resources = ["*"]
  }
}

resource "aws_iam_policy" "boundary" {
  name        = "${var.name}-fjord-boundary"
  description = "Permission boundary of the role the Fjord control plane assumes."
  policy      = data.aws_iam_policy_document.boundary.json
  tags        = local.tags
}

resource "aws_iam_role" "fjord" {
  name                 = var.role_name
  description          = "Assumed by the Fjord control plane (account ${var.vendor_account_id}) to provision ${var.name}."
  assume_role_policy   = data.aws_iam_policy_document.trust.json
  permissions_boundary = aws_iam_policy.boundary.arn
  max_session_duration = 3600
  tags                 = local.tags
}

resource "aws_iam_role_policy" "fjord" {
  name   = "fjord-provisioning"
  role   = aws_iam_role.fjord.id
  policy = data.aws_iam_policy_document.fjord.json
}
