import * as fs from "node:fs"
import { Effect, Either, Layer, Option, ParseResult, Schema } from "effect"
import { KeyError, UsageError } from "../domain/Errors.ts"
import { PolicyFile } from "../domain/Policy.ts"
import * as Signer from "../services/Signer.ts"

/** Read and decode `--policy-file`; unknown fields are refused so a typo cannot weaken a policy. */
export const readPolicyFile = (file: string) =>
  Effect.gen(function* () {
    const text = yield* Effect.try({
      try: () => fs.readFileSync(file, "utf8"),
      catch: (e) =>
        new UsageError({
          message: `--policy-file ${file}: cannot be read (${(e as Error).message})`
        })
    })
    const decoded = Schema.decodeUnknownEither(Schema.parseJson(PolicyFile))(text, {
      onExcessProperty: "error"
    })
    if (Either.isLeft(decoded)) {
      const detail = ParseResult.TreeFormatter.formatErrorSync(decoded.left)
      return yield* new UsageError({ message: `--policy-file ${file}: ${detail}` })
    }
    return decoded.right
  })

/** The Signer for `--signing-key FILE`, or none. */
export const signerFromFile = (file: Option.Option<string>): Layer.Layer<Signer.Signer, KeyError> =>
  Option.match(file, {
    onNone: () => Signer.layerNone,
    onSome: (path) =>
      Layer.unwrapEffect(
        Effect.map(
          Effect.try({
            try: () => fs.readFileSync(path, "utf8"),
            catch: (e) =>
              new KeyError({ file: path, detail: `cannot be read (${(e as Error).message})` })
          }),
          (pem) => Signer.layerFromPem(path, pem)
        )
      )
  })
