package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	cleanhttp "github.com/hashicorp/go-cleanhttp"
	svchost "github.com/hashicorp/terraform-svchost"
	"github.com/hashicorp/terraform-svchost/auth"
	"github.com/hashicorp/terraform-svchost/disco"
)

// newTransport trusts the system pool plus --ca-file: the tests' registry has a
// self-signed certificate, and Terraform trusts whatever the system trusts.
func newTransport(caFile string) (*http.Transport, error) {
	t := cleanhttp.DefaultPooledTransport()
	if caFile == "" {
		return t, nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no certificate in %s", caFile)
	}
	t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return t, nil
}

// registry is one registry host: its discovery, its credentials, and a client that
// sends them only where Terraform does.
type registry struct {
	host      svchost.Hostname
	disco     *disco.Disco
	creds     auth.HostCredentials // nil without a token
	transport *http.Transport
	// plain is the client for URLs the registry hands out (archives, shasums,
	// signatures): Terraform sends them no credentials.
	plain *http.Client
}

func newRegistry(host string, c commonFlags) (*registry, error) {
	h, err := svchost.ForComparison(host)
	if err != nil {
		return nil, fmt.Errorf("invalid registry host %q: %v", host, err)
	}
	t, err := newTransport(c.caFile)
	if err != nil {
		return nil, err
	}
	src := auth.StaticCredentialsSource(nil)
	if c.token != "" {
		src = auth.StaticCredentialsSource(map[svchost.Hostname]map[string]interface{}{h: {"token": c.token}})
	}
	d := disco.NewWithCredentialsSource(src)
	d.Transport = t
	d.SetUserAgent("packyard-tfclient")
	creds, err := d.CredentialsForHost(h)
	if err != nil {
		return nil, err
	}
	return &registry{host: h, disco: d, creds: creds, transport: t, plain: &http.Client{Transport: t, Timeout: 60 * time.Second}}, nil
}

// getJSON GETs a registry API URL with the host's credentials (as Terraform's registry
// client does) and decodes a 200's JSON body into v. It returns the response for headers.
func (r *registry) getJSON(url string, v interface{}) error {
	resp, err := r.get(url, true)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return httpError(url, resp)
	}
	return decodeJSON(url, resp.Body, v)
}

// get GETs url, with the registry's credentials when withCreds is set and the URL is on
// the registry host (credentials belong to a hostname).
func (r *registry) get(url string, withCreds bool) (*http.Response, error) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "packyard-tfclient")
	if withCreds && r.creds != nil {
		if h, err := svchost.ForComparison(req.URL.Host); err == nil && h == r.host {
			r.creds.PrepareRequest(req)
		}
	}
	client := &http.Client{
		Transport: r.transport,
		Timeout:   60 * time.Second,
		// A redirect keeps no Authorization header to another host (Go drops it itself);
		// an https→http redirect is refused, as a registry must never emit one.
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 10 {
				return fmt.Errorf("too many redirects")
			}
			if via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
				return fmt.Errorf("refusing redirect from https to %s", req.URL.Scheme)
			}
			return nil
		},
	}
	return client.Do(req)
}

func httpError(url string, resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
	return &statusError{URL: url, Status: resp.StatusCode, Body: string(body)}
}

type statusError struct {
	URL    string
	Status int
	Body   string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("GET %s: status %d: %s", e.URL, e.Status, e.Body)
}

func decodeJSON(url string, body io.Reader, v interface{}) error {
	b, err := io.ReadAll(io.LimitReader(body, 64<<20))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("GET %s: invalid JSON: %v", url, err)
	}
	return nil
}
