package publish

import (
	"time"

	"github.com/segmentio/kafka-go"
)

// Dialer returns a kafka-go Dialer with the same client id, SASL and TLS
// settings as the Writer's transport, for consumers (kafka.Reader) of the
// same brokers.
func (c Config) Dialer() (*kafka.Dialer, error) {
	t, err := c.WithDefaults().transport()
	if err != nil {
		return nil, err
	}
	return &kafka.Dialer{
		ClientID:      t.ClientID,
		Timeout:       10 * time.Second,
		DualStack:     true,
		SASLMechanism: t.SASL,
		TLS:           t.TLS,
	}, nil
}

// Transport returns the kafka-go Transport (client id, SASL, TLS) the
// Writer uses, for other writers and admin clients of the same brokers.
func (c Config) Transport() (*kafka.Transport, error) {
	return c.WithDefaults().transport()
}
