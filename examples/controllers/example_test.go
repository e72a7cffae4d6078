package controllers_test

import (
	"context"
	"fmt"

	"github.com/gitopskit/gitopskit/examples/controllers"
)

// Example shows the one required setting being checked; with a rest.Config
// and a store directory Start runs both controllers until Stop.
func Example() {
	_, err := controllers.Start(context.Background(), controllers.Config{})
	fmt.Println(err)
	// Output:
	// controllers: REST and StoreDir are required
}
