package testenv_test

import (
	"os"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/readygate/readygate/internal/testenv"
)

var _ = Describe("the Pod schema snapshot", func() {
	It("is what the control plane's kube-apiserver serves (READYGATE_UPDATE_POD_SCHEMA=1 rewrites it)", func() {
		served, err := testenv.ServedPodSchema(cp.Config)
		Expect(err).NotTo(HaveOccurred())
		if os.Getenv("READYGATE_UPDATE_POD_SCHEMA") == "1" {
			Expect(os.WriteFile(testenv.PodSchemaFile, served, 0o644)).To(Succeed())
		}
		snapshot, err := os.ReadFile(testenv.PodSchemaFile)
		Expect(err).NotTo(HaveOccurred())
		Expect(snapshot).To(MatchJSON(served), "the fuzz targets compile against a stale Pod schema: rerun with READYGATE_UPDATE_POD_SCHEMA=1")
		s, err := testenv.PodSchema()
		Expect(err).NotTo(HaveOccurred())
		Expect(s.Properties).To(HaveKey("spec"))
	})
})
