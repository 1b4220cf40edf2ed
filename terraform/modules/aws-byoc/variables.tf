variable "name" {
  description = "Prefix of every resource this module creates (DNS-1123 label, at most 32 characters)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$", var.name))
    error_message = "The name must be a DNS-1123 label of at most 32 characters: lowercase letters, digits and '-', starting and ending with a letter or digit."
  }
}

variable "vendor_account_id" {
  description = "The AWS account the Fjord control plane runs in; only it may assume the role."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.vendor_account_id))
    error_message = "The vendor account id must be exactly 12 digits."
  }
}

variable "external_id" {
  description = "The external id Fjord generated for this account (`fjord_cloud_account.<name>.external_id`)."
  type        = string
  sensitive   = true

  validation {
    condition     = can(regex("^[A-Za-z0-9+=,.@:/_-]{16,1224}$", var.external_id))
    error_message = "The external id must be 16 to 1224 of the characters STS allows (letters, digits, +=,.@:/_-)."
  }
}

variable "role_name" {
  description = "Name of the IAM role Fjord assumes. Give the same name to `fjord_cloud_account.role_arn` (arn:aws:iam::<account>:role/<role_name>)."
  type        = string
  default     = "fjord-control"

  validation {
    condition     = can(regex("^[A-Za-z0-9+=,.@_-]{1,64}$", var.role_name))
    error_message = "The role name must be 1 to 64 of letters, digits and +=,.@_-."
  }
}

variable "region" {
  description = "The AWS region to build in, e.g. eu-west-1 (the aws provider must point at the same region)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]+$", var.region))
    error_message = "The region must look like eu-west-1."
  }
}

variable "availability_zones" {
  description = "Zones to spread subnets and nodes over: 2 or 3 zones of the region (3 lets a 3-broker cluster lose a zone)."
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) >= 2 && length(var.availability_zones) <= 3 && length(distinct(var.availability_zones)) == length(var.availability_zones)
    error_message = "Give 2 or 3 distinct availability zones."
  }
}

variable "vpc_cidr" {
  description = "The VPC's IPv4 range, /16 to /20; each zone gets one private and one public subnet carved from it."
  type        = string
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && tonumber(split("/", var.vpc_cidr)[1]) >= 16 && tonumber(split("/", var.vpc_cidr)[1]) <= 20
    error_message = "The VPC CIDR must be a valid IPv4 range with a prefix of /16 to /20."
  }
}

variable "kubernetes_version" {
  description = "EKS Kubernetes version."
  type        = string
  default     = "1.32"

  validation {
    condition     = can(regex("^1\\.[0-9]{2}$", var.kubernetes_version))
    error_message = "The Kubernetes version must look like 1.32."
  }
}

variable "node_instance_types" {
  description = "Instance types of the broker nodes."
  type        = list(string)
  default     = ["m6i.xlarge"]

  validation {
    condition     = length(var.node_instance_types) > 0
    error_message = "Give at least one instance type."
  }
}

variable "node_count" {
  description = "Desired nodes (at least one per zone is best); the group scales between node_count and 2 x node_count."
  type        = number
  default     = 3

  validation {
    condition     = var.node_count >= 1 && var.node_count <= 100 && floor(var.node_count) == var.node_count
    error_message = "The node count must be a whole number from 1 to 100."
  }
}

variable "endpoint_public_access_cidrs" {
  description = "CIDRs allowed to reach the EKS API endpoint over the internet; empty (the default) keeps the endpoint private to the VPC."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for cidr in var.endpoint_public_access_cidrs : can(cidrhost(cidr, 0)) && cidr != "0.0.0.0/0"])
    error_message = "Each entry must be a valid CIDR, and 0.0.0.0/0 is not allowed."
  }
}

variable "log_retention_days" {
  description = "How long VPC flow logs and EKS control-plane logs are kept."
  type        = number
  default     = 365

  validation {
    condition     = contains([365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "Keep logs at least a year, in one of the periods CloudWatch offers (365, 400, 545, 731, ... 3653 days)."
  }
}

variable "install_operator" {
  description = "Install the Fjord operator with Helm (needs a configured helm provider, see the README). Turn off to install it another way."
  type        = bool
  default     = true
}

variable "operator_chart_path" {
  description = "Path of the operator's Helm chart: operator/deploy of the Fjord repository by default."
  type        = string
  default     = null
}

variable "control_plane_url" {
  description = "The Fjord control plane's URL the agent connects out to, e.g. https://api.fjord.example."
  type        = string

  validation {
    condition     = can(regex("^https?://[^\\s]+$", var.control_plane_url))
    error_message = "The control plane URL must be an http(s) URL."
  }
}

variable "registration_token" {
  description = "The environment's one-time registration token (`fjord_environment.<name>.registration_token`)."
  type        = string
  sensitive   = true
  default     = null

  validation {
    condition     = var.registration_token == null || can(regex("^fjr_[A-Za-z0-9_-]+$", var.registration_token))
    error_message = "The registration token starts with fjr_."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
