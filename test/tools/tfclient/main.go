// tfclient does what `terraform init` does for one module, one provider, or one provider
// from a network mirror, with the libraries Terraform itself is built on (terraform-svchost
// for discovery and credentials, go-getter for module archives, go-version for
// constraints, x/crypto/openpgp for signatures, x/mod/sumdb/dirhash for h1: hashes), so
// the tests can prove a registry against them without a terraform binary.
//
// Output: one JSON object on stdout; on failure a JSON {"error": ...} on stderr and exit 1
// (exit 2 for bad usage).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var result interface{}
	var err error
	switch os.Args[1] {
	case "module":
		result, err = runModule(os.Args[2:])
	case "provider":
		result, err = runProvider(os.Args[2:])
	case "mirror":
		result, err = runMirror(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fail(err)
	}
	out, _ := json.Marshal(result)
	fmt.Println(string(out))
}

func usage() {
	fmt.Fprintln(os.Stderr, `usage:
  tfclient module HOST/NAMESPACE/NAME/SYSTEM[//SUBDIR] --constraint C --out DIR [--token T] [--ca-file F]
  tfclient provider HOST/NAMESPACE/TYPE --constraint C --os OS --arch ARCH --out DIR [--token T] [--ca-file F] [--keyring-out DIR]
  tfclient mirror MIRROR_URL HOSTNAME/NAMESPACE/TYPE --constraint C --os OS --arch ARCH --out DIR [--token T] [--ca-file F]`)
	os.Exit(2)
}

func fail(err error) {
	body := map[string]interface{}{"error": err.Error()}
	if se, ok := err.(*statusError); ok {
		body["status"] = se.Status
		body["url"] = se.URL
	}
	out, _ := json.Marshal(body)
	fmt.Fprintln(os.Stderr, string(out))
	os.Exit(1)
}

// commonFlags are the flags every command takes.
type commonFlags struct {
	constraint string
	out        string
	token      string
	caFile     string
}

func newFlagSet(name string, c *commonFlags) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.StringVar(&c.constraint, "constraint", "", "version constraint, as in a module or required_providers block")
	fs.StringVar(&c.out, "out", "", "directory to install into")
	fs.StringVar(&c.token, "token", "", "registry token (sent as Terraform sends credentials \"HOST\" { token })")
	fs.StringVar(&c.caFile, "ca-file", "", "PEM certificates trusted in addition to the system pool")
	return fs
}

// parseArgs parses flags that may come before or after the positional arguments.
func parseArgs(fs *flag.FlagSet, args []string, positional int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) != positional {
		return nil, fmt.Errorf("%s: expected %d positional argument(s), got %d", fs.Name(), positional, len(pos))
	}
	return pos, nil
}
