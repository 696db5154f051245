# sdme: build, install, test, try.
PREFIX  ?= /usr/local
BINDIR  := $(PREFIX)/bin
MANDIR  := $(PREFIX)/share/man/man1
UNITDIR ?= $(PREFIX)/lib/systemd/system
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
GOFLAGS := -trimpath -ldflags "-s -w -X github.com/sdme/sdme/applets/sdme.version=$(VERSION)"
APPLETS := sdme sdme-import sdme-pod

.PHONY: all install test unit bats bench try deps unit-deps clean

all: bin/sdme bin/man/sdme.1

# Building needs Go only; the test host's tools are the business of the
# targets that boot it.
bin/sdme: $(shell find . -name '*.go' -not -path './build/*') go.mod go.sum
	CGO_ENABLED=0 go build $(GOFLAGS) -o $@ .

# The man pages come from the command tree, written by tools/genman at
# build time rather than by the binary, which then does not carry the
# generator.
bin/man/sdme.1: bin/sdme tools/genman/main.go
	rm -rf bin/man
	CGO_ENABLED=0 go run $(GOFLAGS) ./tools/genman bin/man

# Installs the binary, applet links, completions and man pages; it does not
# rebuild, so that `sudo make install` never runs the Go toolchain as root
# in a user's tree by surprise.
install:
	@test -x bin/sdme || { echo "run make first"; exit 1; }
	install -D -m 0755 bin/sdme $(DESTDIR)$(BINDIR)/sdme
	for a in $(filter-out sdme,$(APPLETS)); do ln -sf sdme $(DESTDIR)$(BINDIR)/$$a; done
	install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
		$(DESTDIR)$(PREFIX)/share/zsh/site-functions \
		$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d $(DESTDIR)$(MANDIR)
	bin/sdme completion bash > $(DESTDIR)$(PREFIX)/share/bash-completion/completions/sdme
	bin/sdme completion zsh > $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_sdme
	bin/sdme completion fish > $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/sdme.fish
	install -m 0644 bin/man/*.1 $(DESTDIR)$(MANDIR)
	install -D -m 0644 units/sdme.socket $(DESTDIR)$(UNITDIR)/sdme.socket
	sed 's|@BINDIR@|$(BINDIR)|' units/sdme.service.in > $(DESTDIR)$(UNITDIR)/sdme.service
	install -D -m 0644 units/apparmor/sdme-default $(DESTDIR)/etc/apparmor.d/sdme-default

# go vet, go test, then the bats suite in the test host.
test: unit-deps unit bats

# As root, with what unit-deps installs, no test may skip:
# SDME_TEST_REQUIRE_ROOT=1 makes every skip a failure (internal/testroot).
unit:
	go vet ./...
	SDME_TEST_REQUIRE_ROOT=1 go test ./...

bats: deps bin/sdme bin/man/sdme.1
	bats/run.sh $(FILTER)

bench: deps bin/sdme
	bench/run.sh

# Boot the test host and run `sdme new` in it: try sdme without a systemd host.
try: deps bin/sdme
	bats/try.sh

# Install what booting the test host needs on a Debian or Ubuntu machine;
# unit-deps adds what the unit tests run as root.
deps:
	@./bats/testhost/deps.sh

unit-deps:
	@./bats/testhost/deps.sh unit

clean:
	rm -rf bin build
