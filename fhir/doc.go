package fhir
