package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	getter "github.com/hashicorp/go-getter"
)

type moduleResult struct {
	Version  string   `json:"version"`
	Location string   `json:"location"`
	Files    []string `json:"files"`
}

func runModule(args []string) (interface{}, error) {
	var c commonFlags
	fs := newFlagSet("module", &c)
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return nil, err
	}
	// HOST/NAMESPACE/NAME/SYSTEM//SUBDIR: as in Terraform, the subdirectory is not part of the
	// registry address; it is applied inside the package the registry points to.
	address, addrSubdir := pos[0], ""
	if i := strings.Index(address, "//"); i > -1 {
		address, addrSubdir = address[:i], strings.Trim(address[i+2:], "/")
	}
	parts := strings.Split(address, "/")
	if len(parts) != 4 {
		return nil, fmt.Errorf("module address must be HOST/NAMESPACE/NAME/SYSTEM[//SUBDIR], got %q", pos[0])
	}
	if c.out == "" {
		return nil, fmt.Errorf("--out is required")
	}
	reg, err := newRegistry(parts[0], c)
	if err != nil {
		return nil, err
	}
	base, err := reg.disco.DiscoverServiceURL(reg.host, "modules.v1")
	if err != nil {
		return nil, fmt.Errorf("discovery of modules.v1 on %s: %v", reg.host, err)
	}
	modPath := strings.Join([]string{parts[1], parts[2], parts[3]}, "/")

	// GET <modules.v1>/<ns>/<name>/<system>/versions
	versionsURL := base.ResolveReference(&url.URL{Path: modPath + "/versions"})
	var listing struct {
		Modules []struct {
			Versions []struct {
				Version string `json:"version"`
			} `json:"versions"`
		} `json:"modules"`
	}
	if err := reg.getJSON(versionsURL.String(), &listing); err != nil {
		return nil, err
	}
	if len(listing.Modules) == 0 {
		return nil, fmt.Errorf("%s: no modules in the versions answer", versionsURL)
	}
	var available []string
	for _, v := range listing.Modules[0].Versions {
		available = append(available, v.Version)
	}
	chosen, err := chooseVersion(available, c.constraint)
	if err != nil {
		return nil, err
	}

	// GET …/<version>/download: 204 with X-Terraform-Get, or a 200 whose JSON body has "location".
	downloadURL := base.ResolveReference(&url.URL{Path: modPath + "/" + chosen.Original() + "/download"})
	location, err := moduleLocation(reg, downloadURL)
	if err != nil {
		return nil, err
	}

	// Fetch with go-getter and no registry credentials: Terraform hands the location to
	// go-getter, which knows nothing of the registry's token.
	if err := os.MkdirAll(c.out, 0o755); err != nil {
		return nil, err
	}
	src := location
	if addrSubdir != "" {
		src = withSubdir(location, addrSubdir)
	}
	httpGetter := &getter.HttpGetter{Client: &http.Client{Transport: reg.transport}}
	client := &getter.Client{
		Ctx:           context.Background(),
		Src:           src,
		Dst:           c.out,
		Pwd:           c.out,
		Mode:          getter.ClientModeDir,
		Detectors:     getter.Detectors,
		Decompressors: getter.Decompressors,
		Getters:       map[string]getter.Getter{"http": httpGetter, "https": httpGetter},
	}
	if err := client.Get(); err != nil {
		return nil, fmt.Errorf("fetching %s: %v", location, err)
	}
	files, err := listFiles(c.out)
	if err != nil {
		return nil, err
	}
	return moduleResult{Version: chosen.Original(), Location: location, Files: files}, nil
}

// withSubdir joins the address's subdirectory onto the location's own (if it has one), written
// before the query as Terraform writes a remote module source, so go-getter keeps the query on
// the package URL.
func withSubdir(location, subdir string) string {
	pkg, locSubdir := getter.SourceDirSubdir(location)
	if locSubdir != "" {
		subdir = path.Join(locSubdir, subdir)
	}
	if i := strings.Index(pkg, "?"); i > -1 {
		return pkg[:i] + "//" + subdir + pkg[i:]
	}
	return pkg + "//" + subdir
}

// moduleLocation reads the download answer and resolves a relative location against the
// download URL. Like Terraform, only "/", "./" and "../" mark a relative URL: any other
// string is a go-getter address.
func moduleLocation(reg *registry, downloadURL *url.URL) (string, error) {
	resp, err := reg.get(downloadURL.String(), true)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var location string
	switch resp.StatusCode {
	case 204:
		location = resp.Header.Get("X-Terraform-Get")
	case 200:
		var body struct {
			Location string `json:"location"`
		}
		if err := decodeJSON(downloadURL.String(), resp.Body, &body); err != nil {
			return "", err
		}
		location = body.Location
	default:
		return "", httpError(downloadURL.String(), resp)
	}
	io.Copy(io.Discard, resp.Body)
	if location == "" {
		return "", fmt.Errorf("%s: answer %d gives no location", downloadURL, resp.StatusCode)
	}
	if strings.HasPrefix(location, "/") || strings.HasPrefix(location, "./") || strings.HasPrefix(location, "../") {
		rel, err := url.Parse(location)
		if err != nil {
			return "", fmt.Errorf("%s: invalid relative location %q: %v", downloadURL, location, err)
		}
		location = downloadURL.ResolveReference(rel).String()
	}
	return location, nil
}

// listFiles lists the regular files under dir, relative, with forward slashes, sorted.
func listFiles(dir string) ([]string, error) {
	files := []string{}
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.Mode().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(files)
	return files, err
}
