package cdshooks
