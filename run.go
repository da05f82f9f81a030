package pilotage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"reflect"
	"syscall"
	"time"

	"github.com/pilotage/pilotage/internal/config"
	"github.com/pilotage/pilotage/internal/host"
	"github.com/pilotage/pilotage/internal/proclet"
)

// PointerToMain is satisfied by *T when T implements the Main component and
// its generated code exists. The RunPilotageGenerate method is written by
// "pilotage generate"; if the compiler says it is missing, run that command.
type PointerToMain[T any] interface {
	*T
	InstanceOf[Main]
	RunPilotageGenerate()
}

// Run starts the application in this process, with Main's implementation and
// every component it reaches, and calls app with the Main instance. When ctx
// is done (SIGINT and SIGTERM cancel it), app should return; Run returns
// once it has, after calling Shutdown on every component, dependents first.
//
// Under a deployer ("pilotage run", which sets $PILOTAGE_ENVELOPE), the same
// call hosts the components the deployer assigns to this process, and calls
// app only in the process hosting Main.
//
// The configuration is read from the file named by $PILOTAGE_CONFIG, or from
// pilotage.toml in the working directory if there is one.
func Run[T any, P PointerToMain[T]](ctx context.Context, app func(context.Context, P) error) error {
	mainIface := reflect.TypeFor[Main]()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	conn, underDeployer, err := proclet.Connect()
	if err != nil {
		return err
	}
	if underDeployer {
		return proclet.Run(ctx, conn, proclet.Options{
			Main:   mainIface,
			App:    func(ctx context.Context, main any) error { return app(ctx, main.(P)) },
			Logger: logger,
		})
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	h, err := host.New(host.Options{
		Mode:   host.Local,
		Config: cfg,
		Logger: logger,
		OnListen: func(name string, addr net.Addr) {
			logger.Info("listening", "listener", name, "address", addr.String())
		},
	})
	if err != nil {
		return err
	}
	main, err := h.Instance(ctx, mainIface)
	if err == nil {
		err = app(ctx, main.(P))
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return errors.Join(err, h.Shutdown(shutdownCtx))
}

func loadConfig() (*config.File, error) {
	if path := os.Getenv("PILOTAGE_CONFIG"); path != "" {
		cfg, err := config.Read(path)
		if err != nil {
			return nil, fmt.Errorf("load config from $PILOTAGE_CONFIG: %w", err)
		}
		return cfg, nil
	}
	cfg, err := config.Read("pilotage.toml")
	if errors.Is(err, os.ErrNotExist) {
		return config.Empty(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	return cfg, nil
}
