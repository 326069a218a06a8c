package authz

// policyConfig is replaced by the owner of this file.
type policyConfig struct{}
