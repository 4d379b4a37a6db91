import * as fs from "node:fs"
import { Command, Options } from "@effect/cli"
import { Console, Effect } from "effect"
import { UsageError } from "../../domain/Errors.ts"
import { generateKeyPair, keyIdOf } from "../../services/Signer.ts"
import * as crypto from "node:crypto"
import { verboseOption } from "../repository.ts"

export const keygenCommand = Command.make(
  "keygen",
  {
    verbose: verboseOption,
    type: Options.choice("type", ["ed25519", "ecdsa-p256", "rsa"]).pipe(
      Options.withDescription("Key type (default ed25519); RSA keys sign with RSA-PSS-SHA256"),
      Options.withDefault("ed25519" as const)
    ),
    out: Options.text("out").pipe(
      Options.withDescription("Path prefix: writes PREFIX.key (private, mode 0600) and PREFIX.pub"),
      Options.withDefault("relpub")
    )
  },
  (args) =>
    Effect.gen(function* () {
      const pair = generateKeyPair(args.type)
      const keyFile = `${args.out}.key`
      const pubFile = `${args.out}.pub`
      yield* Effect.try({
        try: () => {
          fs.writeFileSync(keyFile, pair.privateKeyPem, { mode: 0o600, flag: "wx" })
          fs.writeFileSync(pubFile, pair.publicKeyPem, { mode: 0o644, flag: "wx" })
        },
        catch: (e) =>
          new UsageError({
            message: `cannot write the key pair: ${(e as Error).message} (refusing to overwrite)`
          })
      })
      const keyId = keyIdOf(crypto.createPublicKey(pair.publicKeyPem))
      yield* Console.log(
        `wrote ${keyFile} (private) and ${pubFile} (public), ${args.type}, key id ${keyId}`
      )
    })
).pipe(Command.withDescription("Write a new signing key pair (PEM)"))
