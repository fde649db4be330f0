package cluster

import (
	"context"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/applyconfigurations"
)

// testTypes is the schema of the kinds podstack deploys as client-go was
// built with it, for tests without an API server (the binary reads the
// server's: Client.TypeConverter).
var testTypes = sync.OnceValue(func() managedfields.TypeConverter {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return applyconfigurations.NewTypeConverter(s)
})

func (s *scriptedAPI) TypeConverter(context.Context) (managedfields.TypeConverter, error) {
	return testTypes(), nil
}
