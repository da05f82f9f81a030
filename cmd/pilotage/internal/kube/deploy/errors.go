package deploy

import (
	"errors"
	"fmt"
	"net"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// explain turns the API errors a user meets into one line that says what
// to do: a Forbidden names the permission missing, an unreachable server
// says so.
func explain(err error) error {
	var status apierrors.APIStatus
	var netErr net.Error
	switch {
	case errors.As(err, &status) && apierrors.IsForbidden(err):
		// The server's message names the user, the verb and the
		// resource: the permission that is missing.
		return fmt.Errorf("%s (ask the cluster's admin for a Role that grants it)", status.Status().Message)
	case apierrors.IsUnauthorized(err):
		return fmt.Errorf("unauthorized: the kubeconfig's credentials were refused: %w", err)
	case errors.As(err, &netErr):
		return fmt.Errorf("the cluster does not answer: %w", err)
	}
	return err
}
