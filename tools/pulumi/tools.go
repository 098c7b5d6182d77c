//go:build tools

// Package tools pins the Pulumi CLI's main package into this module's graph so
// `go build github.com/pulumi/pulumi/pkg/v3/cmd/pulumi` resolves at the version above.
package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
