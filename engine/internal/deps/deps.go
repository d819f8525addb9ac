// Package deps pins the module set while the packages that import these are being written. Removed once they exist.
package deps

import (
	_ "github.com/apache/arrow-go/v18/arrow"
	_ "github.com/apache/arrow-go/v18/arrow/array"
	_ "github.com/apache/arrow-go/v18/parquet/compress"
	_ "github.com/apache/arrow-go/v18/parquet/pqarrow"
	_ "github.com/aws/aws-sdk-go-v2/config"
	_ "github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	_ "github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	_ "github.com/aws/aws-sdk-go-v2/service/s3"
	_ "github.com/aws/aws-sdk-go-v2/service/sts"
	_ "github.com/expr-lang/expr"
	_ "github.com/santhosh-tekuri/jsonschema/v6"
	_ "golang.org/x/term"
	_ "golang.org/x/tools/txtar"
	_ "gopkg.in/yaml.v3"
)
