package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	getter "github.com/hashicorp/go-getter"
	"golang.org/x/crypto/openpgp"
	pgperrors "golang.org/x/crypto/openpgp/errors"
)

type providerResult struct {
	Version  string `json:"version"`
	Filename string `json:"filename"`
	Shasum   string `json:"shasum"`
	Verified bool   `json:"verified"`
	// Signature is "verified" (by the key KeyID) or "unverified-eddsa": Debian's
	// x/crypto/openpgp has no EdDSA, so the files are written to --keyring-out for gpgv/sqv.
	Signature string   `json:"signature"`
	KeyID     string   `json:"key_id,omitempty"`
	Files     []string `json:"files"`
}

type providerFlags struct {
	commonFlags
	os, arch   string
	keyringOut string
}

func providerFlagSet(name string, p *providerFlags) *flag.FlagSet {
	fs := newFlagSet(name, &p.commonFlags)
	fs.StringVar(&p.os, "os", "linux", "target operating system")
	fs.StringVar(&p.arch, "arch", "amd64", "target architecture")
	return fs
}

func runProvider(args []string) (interface{}, error) {
	var p providerFlags
	fs := providerFlagSet("provider", &p)
	fs.StringVar(&p.keyringOut, "keyring-out", "", "directory to write the signing key, SHA256SUMS and its .sig into when the client cannot verify them itself")
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return nil, err
	}
	parts := strings.Split(pos[0], "/")
	if len(parts) != 3 {
		return nil, fmt.Errorf("provider address must be HOST/NAMESPACE/TYPE, got %q", pos[0])
	}
	if p.out == "" {
		return nil, fmt.Errorf("--out is required")
	}
	reg, err := newRegistry(parts[0], p.commonFlags)
	if err != nil {
		return nil, err
	}
	base, err := reg.disco.DiscoverServiceURL(reg.host, "providers.v1")
	if err != nil {
		return nil, fmt.Errorf("discovery of providers.v1 on %s: %v", reg.host, err)
	}
	provPath := parts[1] + "/" + parts[2]

	versionsURL := base.ResolveReference(&url.URL{Path: provPath + "/versions"})
	var listing struct {
		Versions []struct {
			Version   string   `json:"version"`
			Protocols []string `json:"protocols"`
			Platforms []struct {
				OS   string `json:"os"`
				Arch string `json:"arch"`
			} `json:"platforms"`
		} `json:"versions"`
	}
	if err := reg.getJSON(versionsURL.String(), &listing); err != nil {
		return nil, err
	}
	// Terraform considers only versions offered for the platform it runs on.
	var available []string
	for _, v := range listing.Versions {
		for _, pl := range v.Platforms {
			if pl.OS == p.os && pl.Arch == p.arch {
				available = append(available, v.Version)
				break
			}
		}
	}
	chosen, err := chooseVersion(available, p.constraint)
	if err != nil {
		return nil, err
	}

	downloadURL := base.ResolveReference(&url.URL{Path: provPath + "/" + chosen.Original() + "/download/" + p.os + "/" + p.arch})
	var meta struct {
		Protocols           []string `json:"protocols"`
		OS                  string   `json:"os"`
		Arch                string   `json:"arch"`
		Filename            string   `json:"filename"`
		DownloadURL         string   `json:"download_url"`
		ShasumsURL          string   `json:"shasums_url"`
		ShasumsSignatureURL string   `json:"shasums_signature_url"`
		Shasum              string   `json:"shasum"`
		SigningKeys         struct {
			GPGPublicKeys []struct {
				KeyID      string `json:"key_id"`
				ASCIIArmor string `json:"ascii_armor"`
			} `json:"gpg_public_keys"`
		} `json:"signing_keys"`
	}
	if err := reg.getJSON(downloadURL.String(), &meta); err != nil {
		return nil, err
	}
	if meta.Filename == "" || meta.DownloadURL == "" || meta.ShasumsURL == "" || meta.ShasumsSignatureURL == "" || meta.Shasum == "" {
		return nil, fmt.Errorf("%s: the answer lacks filename, download_url, shasums_url, shasums_signature_url or shasum", downloadURL)
	}
	if len(meta.SigningKeys.GPGPublicKeys) == 0 {
		return nil, fmt.Errorf("%s: no signing_keys.gpg_public_keys", downloadURL)
	}

	// The three URLs resolve against the download answer's URL and get no credentials.
	zipBytes, err := fetchPlain(reg, downloadURL, meta.DownloadURL)
	if err != nil {
		return nil, err
	}
	sums, err := fetchPlain(reg, downloadURL, meta.ShasumsURL)
	if err != nil {
		return nil, err
	}
	sig, err := fetchPlain(reg, downloadURL, meta.ShasumsSignatureURL)
	if err != nil {
		return nil, err
	}

	// Terraform's checks, in its order: the archive against `shasum`, the archive against
	// its SHA256SUMS line, then the signature over SHA256SUMS by one of the listed keys.
	got := sha256.Sum256(zipBytes)
	gotHex := hex.EncodeToString(got[:])
	if !strings.EqualFold(gotHex, meta.Shasum) {
		return nil, fmt.Errorf("archive SHA-256 %s does not match shasum %s", gotHex, meta.Shasum)
	}
	line, err := sumsLine(sums, meta.Filename)
	if err != nil {
		return nil, err
	}
	if !strings.EqualFold(line, gotHex) {
		return nil, fmt.Errorf("SHA256SUMS lists %s for %s, the archive is %s", line, meta.Filename, gotHex)
	}

	res := providerResult{Version: chosen.Original(), Filename: meta.Filename, Shasum: gotHex}
	var eddsaKeys []string
	for _, k := range meta.SigningKeys.GPGPublicKeys {
		ring, err := openpgp.ReadArmoredKeyRing(strings.NewReader(k.ASCIIArmor))
		if err != nil {
			if isEdDSA(err) {
				eddsaKeys = append(eddsaKeys, k.ASCIIArmor)
				continue
			}
			return nil, fmt.Errorf("signing key %s: %v", k.KeyID, err)
		}
		signer, err := openpgp.CheckDetachedSignature(ring, bytes.NewReader(sums), bytes.NewReader(sig))
		if err == nil {
			res.Verified = true
			res.Signature = "verified"
			res.KeyID = fmt.Sprintf("%016X", signer.PrimaryKey.KeyId)
			break
		}
	}
	if !res.Verified {
		if len(eddsaKeys) == 0 {
			return nil, fmt.Errorf("SHA256SUMS signature is not by any listed key")
		}
		// Debian's x/crypto/openpgp cannot check EdDSA: leave the check to gpgv/sqv.
		res.Signature = "unverified-eddsa"
		if p.keyringOut != "" {
			if err := writeForGpgv(p.keyringOut, eddsaKeys, sums, sig); err != nil {
				return nil, err
			}
		}
	}

	// Unpack as Terraform does, with go-getter's zip decompressor.
	if err := os.MkdirAll(p.out, 0o755); err != nil {
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
	if err := (&getter.ZipDecompressor{}).Decompress(p.out, tmp.Name(), true); err != nil {
		return nil, fmt.Errorf("unzip %s: %v", meta.Filename, err)
	}
	if res.Files, err = listFiles(p.out); err != nil {
		return nil, err
	}
	return res, nil
}

// isEdDSA tells the unsupported-algorithm error of an EdDSA key (legacy 22, RFC 9580 27).
func isEdDSA(err error) bool {
	var ue pgperrors.UnsupportedError
	if !errors.As(err, &ue) {
		return false
	}
	s := string(ue)
	return strings.Contains(s, "public key type: 22") || strings.Contains(s, "public key type: 27")
}

// writeForGpgv writes the keys (armored, one file each and all together), SHA256SUMS
// and SHA256SUMS.sig for a test to check with gpgv or sqv.
func writeForGpgv(dir string, keys []string, sums, sig []byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "keys.asc"), []byte(strings.Join(keys, "\n")), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "SHA256SUMS"), sums, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "SHA256SUMS.sig"), sig, 0o644)
}

// sumsLine finds filename's hash in a SHA256SUMS file ("<hex>  <name>" lines).
func sumsLine(sums []byte, filename string) (string, error) {
	sc := bufio.NewScanner(bytes.NewReader(sums))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 2 && strings.TrimPrefix(fields[1], "*") == filename {
			return fields[0], nil
		}
	}
	return "", fmt.Errorf("SHA256SUMS has no line for %s", filename)
}

// fetchPlain GETs a URL from a registry answer, resolved against the answer's URL,
// without credentials (Terraform sends none to download_url, shasums_url, shasums_signature_url).
func fetchPlain(reg *registry, base *url.URL, ref string) ([]byte, error) {
	u, err := base.Parse(ref)
	if err != nil {
		return nil, fmt.Errorf("invalid URL %q: %v", ref, err)
	}
	resp, err := reg.get(u.String(), false)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, httpError(u.String(), resp)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 1<<30))
}
