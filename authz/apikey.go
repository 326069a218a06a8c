package authz

// apiKeyConfig is replaced by the owner of this file.
type apiKeyConfig struct{}
