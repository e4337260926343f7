package scoring
