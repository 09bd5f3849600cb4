package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"

	getter "github.com/hashicorp/go-getter"
	svchost "github.com/hashicorp/terraform-svchost"
	"golang.org/x/mod/sumdb/dirhash"
)

type mirrorResult struct {
	Version string   `json:"version"`
	URL     string   `json:"url"`
	Hashes  []string `json:"hashes"`
	// H1Archive is the h1: of the zip (dirhash.HashZip): what Terraform's PackageHashV1
	// computes for a downloaded archive and checks the mirror's hashes against.
	H1Archive string `json:"h1_archive"`
	// H1Dir is the h1: of the unpacked directory (dirhash.HashDir with prefix ""): what
	// PackageHashV1 computes for an installed package and records in the lock file.
	H1Dir    string   `json:"h1_dir"`
	ZH       string   `json:"zh"`
	Verified bool     `json:"verified"`
	Files    []string `json:"files"`
}

func runMirror(args []string) (interface{}, error) {
	var p providerFlags
	fs := providerFlagSet("mirror", &p)
	pos, err := parseArgs(fs, args, 2)
	if err != nil {
		return nil, err
	}
	base, err := url.Parse(pos[0])
	if err != nil || base.Scheme != "https" || base.Host == "" {
		return nil, fmt.Errorf("mirror URL must be https://HOST/…/, got %q", pos[0])
	}
	if !strings.HasSuffix(base.Path, "/") {
		base.Path += "/" // as Terraform normalizes a network_mirror url
	}
	parts := strings.Split(pos[1], "/")
	if len(parts) != 3 {
		return nil, fmt.Errorf("provider address must be HOSTNAME/NAMESPACE/TYPE, got %q", pos[1])
	}
	if p.out == "" {
		return nil, fmt.Errorf("--out is required")
	}
	provHost, err := svchost.ForComparison(parts[0])
	if err != nil {
		return nil, fmt.Errorf("invalid provider hostname %q: %v", parts[0], err)
	}
	// Credentials are the mirror host's own (Terraform looks them up for the mirror's hostname).
	reg, err := newRegistry(base.Host, p.commonFlags)
	if err != nil {
		return nil, err
	}
	prefix := provHost.String() + "/" + parts[1] + "/" + parts[2] + "/"

	indexURL := base.ResolveReference(&url.URL{Path: prefix + "index.json"})
	var index struct {
		Versions map[string]struct{} `json:"versions"`
	}
	if err := reg.getJSON(indexURL.String(), &index); err != nil {
		return nil, err
	}
	var available []string
	for v := range index.Versions {
		available = append(available, v)
	}
	chosen, err := chooseVersion(available, p.constraint)
	if err != nil {
		return nil, err
	}

	versionURL := base.ResolveReference(&url.URL{Path: prefix + chosen.Original() + ".json"})
	var listing struct {
		Archives map[string]struct {
			URL    string   `json:"url"`
			Hashes []string `json:"hashes"`
		} `json:"archives"`
	}
	if err := reg.getJSON(versionURL.String(), &listing); err != nil {
		return nil, err
	}
	archive, ok := listing.Archives[p.os+"_"+p.arch]
	if !ok {
		return nil, fmt.Errorf("%s: no archive for %s_%s", versionURL, p.os, p.arch)
	}
	archiveURL, err := versionURL.Parse(archive.URL)
	if err != nil {
		return nil, fmt.Errorf("invalid archive url %q: %v", archive.URL, err)
	}
	zipBytes, err := fetchPlain(reg, versionURL, archive.URL)
	if err != nil {
		return nil, err
	}

	tmp, err := os.CreateTemp("", "tfclient-*.zip")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(zipBytes); err != nil {
		return nil, err
	}
	tmp.Close()
	res := mirrorResult{Version: chosen.Original(), URL: archiveURL.String(), Hashes: archive.Hashes}
	sum := sha256.Sum256(zipBytes)
	res.ZH = "zh:" + hex.EncodeToString(sum[:])
	if res.H1Archive, err = dirhash.HashZip(tmp.Name(), dirhash.Hash1); err != nil {
		return nil, fmt.Errorf("h1 of the archive: %v", err)
	}
	if err := os.MkdirAll(p.out, 0o755); err != nil {
		return nil, err
	}
	if err := (&getter.ZipDecompressor{}).Decompress(p.out, tmp.Name(), true); err != nil {
		return nil, fmt.Errorf("unzip %s: %v", res.URL, err)
	}
	if res.H1Dir, err = dirhash.HashDir(p.out, "", dirhash.Hash1); err != nil {
		return nil, fmt.Errorf("h1 of the unpacked package: %v", err)
	}
	if res.Files, err = listFiles(p.out); err != nil {
		return nil, err
	}

	// Terraform accepts the archive when one listed hash it understands matches; this
	// client is stricter, so a wrong hash in a list cannot hide behind a right one: every
	// h1:/zh: listed must match, and at least one h1: must be there.
	h1s := 0
	for _, h := range archive.Hashes {
		switch {
		case strings.HasPrefix(h, "h1:"):
			h1s++
			if h != res.H1Archive {
				return nil, fmt.Errorf("%s lists %s, the archive's is %s", versionURL, h, res.H1Archive)
			}
		case strings.HasPrefix(h, "zh:"):
			if !strings.EqualFold(h, res.ZH) {
				return nil, fmt.Errorf("%s lists %s, the archive's is %s", versionURL, h, res.ZH)
			}
		}
	}
	if h1s == 0 {
		return nil, fmt.Errorf("%s lists no h1: hash for %s_%s", versionURL, p.os, p.arch)
	}
	res.Verified = true
	return res, nil
}
