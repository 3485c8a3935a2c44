// Command combine writes api/openapi/ticketsys.yaml, the front door's
// description, from command.yaml and query.yaml; with -docs FILE it instead
// makes FILE, redocly's reference page, load nothing from the network
// (make openapi runs both). Run it from the repository's root.
package main

import (
	"flag"
	"fmt"
	"os"
	"regexp"

	"github.com/ticketsys/ticketsys/api/openapi"
)

// cdnImage matches the images redocly's page would fetch from its CDN (the
// attribution logo, shown whatever the options say). An empty SVG takes
// their place: the page then asks for nothing but itself.
var cdnImage = regexp.MustCompile(`https://cdn\.redoc\.ly/[A-Za-z0-9/._-]+\.svg`)

const emptySVG = `data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E`

func main() {
	docs := flag.String("docs", "", "rewrite this redocly page's CDN images as inline ones")
	flag.Parse()
	if err := run(*docs); err != nil {
		fmt.Fprintln(os.Stderr, "combine:", err)
		os.Exit(1)
	}
}

func run(docs string) error {
	if docs != "" {
		b, err := os.ReadFile(docs)
		if err != nil {
			return err
		}
		return os.WriteFile(docs, cdnImage.ReplaceAll(b, []byte(emptySVG)), 0o644)
	}
	b, err := openapi.Combined()
	if err != nil {
		return err
	}
	return os.WriteFile("api/openapi/ticketsys.yaml", b, 0o644)
}
