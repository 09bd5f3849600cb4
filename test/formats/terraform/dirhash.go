// Prints x/mod's dirhash.HashZip(zip, dirhash.Hash1), what Terraform's getproviders.PackageHashV1
// computes for a provider archive, for each zip named on the command line, one per line.
package main

import (
	"fmt"
	"os"

	"golang.org/x/mod/sumdb/dirhash"
)

func main() {
	for _, zip := range os.Args[1:] {
		h, err := dirhash.HashZip(zip, dirhash.Hash1)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(h)
	}
}
