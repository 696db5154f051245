package cli

import (
	"github.com/sdme/sdme/engine"
	"github.com/sdme/sdme/engine/config"
)

// Opener opens the engine on first use and keeps it for the rest of one
// invocation: a command that needs none (help, completion) never loads the
// configuration.
type Opener struct {
	eng *engine.Engine
}

// Open returns the engine for the configuration file, opening it once.
func (o *Opener) Open() (*engine.Engine, error) {
	if o.eng == nil {
		e, err := engine.Open(config.Path())
		if err != nil {
			return nil, err
		}
		o.eng = e
	}
	return o.eng, nil
}

// Close releases the engine's connections, if it was opened.
func (o *Opener) Close() {
	if o.eng != nil {
		o.eng.Close()
	}
}
