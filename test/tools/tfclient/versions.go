package main

import (
	"fmt"
	"sort"
	"strings"

	version "github.com/hashicorp/go-version"
)

// chooseVersion picks the newest of available that the constraint accepts. As
// Terraform does, a pre-release is chosen only when the constraint names it exactly
// ("1.3.0-beta" or "= 1.3.0-beta"); go-version alone would also let "~> 1.3.0-beta"
// reach 1.3.0-beta2.
func chooseVersion(available []string, constraint string) (*version.Version, error) {
	var cs version.Constraints
	if constraint != "" {
		var err error
		cs, err = version.NewConstraint(constraint)
		if err != nil {
			return nil, fmt.Errorf("invalid constraint %q: %v", constraint, err)
		}
	}
	exact := exactVersions(constraint)
	var ok []*version.Version
	for _, s := range available {
		v, err := version.NewVersion(s)
		if err != nil {
			continue // Terraform skips versions it cannot parse
		}
		if v.Prerelease() != "" && !exact[v.String()] {
			continue
		}
		if cs != nil && !cs.Check(v) {
			continue
		}
		ok = append(ok, v)
	}
	if len(ok) == 0 {
		return nil, fmt.Errorf("no version matches %q among %v", constraint, available)
	}
	sort.Sort(version.Collection(ok))
	return ok[len(ok)-1], nil
}

// exactVersions are the versions the constraint names with "=" or no operator.
func exactVersions(constraint string) map[string]bool {
	out := map[string]bool{}
	for _, part := range strings.Split(constraint, ",") {
		part = strings.TrimSpace(part)
		if strings.HasPrefix(part, "!=") {
			continue
		}
		part = strings.TrimSpace(strings.TrimPrefix(part, "="))
		if v, err := version.NewVersion(part); err == nil {
			out[v.String()] = true
		}
	}
	return out
}
