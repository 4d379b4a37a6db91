import { assert, describe, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import {
  isEncryptedFile,
  isManifestMetadata,
  isProvenanceFile,
  isSbomFile,
  isSignatureFile,
  SIGNATURE_SUFFIXES,
  signedSubject
} from "../../src/domain/ReleaseContent.ts"

const name = fc.stringMatching(/^[a-z0-9][a-z0-9._/-]{0,12}$/)

describe("ReleaseContent", () => {
  describe("#isSignatureFile", () => {
    describe("when the name ends with a signature suffix in any case", () => {
      it("returns true", () => {
        const names = ["a.tgz.sig", "a.tgz.ASC", "d/a.minisig", "a.sigstore.json", "a.sigstore"]
        for (const p of [...names, "SHA256SUMS.sig"]) {
          assert.isTrue(isSignatureFile(p), p)
        }
      })
    })

    describe("when the name only contains a suffix", () => {
      it("returns false", () => {
        for (const p of ["a.sig.tgz", "signature.txt", "a.json", "asc", "a.sigs"]) {
          assert.isFalse(isSignatureFile(p), p)
        }
      })
    })
  })

  describe("#signedSubject", () => {
    describe("when the file is a detached signature", () => {
      it("returns the file it covers", () => {
        assert.strictEqual(signedSubject("a.tar.gz.sig"), "a.tar.gz")
        assert.strictEqual(signedSubject("d/a.tar.gz.SIG"), "d/a.tar.gz")
        assert.strictEqual(signedSubject("a.bin.sigstore.json"), "a.bin")
        assert.strictEqual(signedSubject("a.bin.sigstore"), "a.bin")
        assert.strictEqual(signedSubject("manifest.json.asc"), "manifest.json")
      })
    })

    describe("when the file is not a signature", () => {
      it("returns undefined", () => {
        assert.strictEqual(signedSubject("a.tar.gz"), undefined)
      })
    })

    const args = { n: name, s: fc.constantFrom(...SIGNATURE_SUFFIXES) }
    it.prop("returns the subject for every suffix", args, ({ n, s }) => {
      assert.strictEqual(signedSubject(n + s), n)
      assert.isTrue(isSignatureFile(n + s))
    }, { fastCheck: { numRuns: 100 } })
  })

  describe("#isSbomFile", () => {
    describe("when the name is an SBOM name", () => {
      it("returns true", () => {
        const names = ["a.cdx.json", "d/app.spdx.json", "bom.json", "sbom.json", "d/SBOM-x.json"]
        for (const p of [...names, "BOM.JSON"]) {
          assert.isTrue(isSbomFile(p), p)
        }
      })
    })

    describe("when only a directory or another extension matches", () => {
      it("returns false", () => {
        const names = ["sbom/app.tgz", "sbom.xml", "a.cdx.json.sig", "mybom.json", "sbom.json.enc"]
        for (const p of names) {
          assert.isFalse(isSbomFile(p), p)
        }
      })
    })
  })

  describe("#isProvenanceFile", () => {
    describe("when the name is a provenance name", () => {
      it("returns true", () => {
        for (const p of [
          "a.intoto.jsonl", "a.intoto.json", "a.slsa.json", "provenance.json",
          "d/build-provenance.jsonl", "PROVENANCE.JSON"
        ]) {
          assert.isTrue(isProvenanceFile(p), p)
        }
      })
    })

    describe("when the name does not match", () => {
      it("returns false", () => {
        for (const p of ["provenance.txt", "provenance/app.json", "a.intoto.jsonl.sig", "a.json"]) {
          assert.isFalse(isProvenanceFile(p), p)
        }
      })
    })
  })

  describe("#isEncryptedFile", () => {
    it("returns true only for .enc names", () => {
      assert.isTrue(isEncryptedFile("a.tgz.enc"))
      assert.isTrue(isEncryptedFile("a.tgz.ENC"))
      assert.isFalse(isEncryptedFile("a.enc.tgz"))
      assert.isFalse(isEncryptedFile("a.tgz.encrypted"))
    })
  })

  describe("#isManifestMetadata", () => {
    describe("when the file is a manifest or a signature over one", () => {
      it("returns true", () => {
        const names = ["manifest.json", "SHA256SUMS", "manifest.json.sig", "SHA256SUMS.asc"]
        for (const p of [...names, "SHA256SUMS.sigstore.json"]) {
          assert.isTrue(isManifestMetadata(p), p)
        }
      })
    })

    describe("when the file is elsewhere or an artifact", () => {
      it("returns false", () => {
        const names = ["d/manifest.json", "sha256sums", "manifest.json.bak", "a.tgz.sig"]
        for (const p of [...names, "SHA256SUMS.enc"]) {
          assert.isFalse(isManifestMetadata(p), p)
        }
      })
    })
  })
})
